"""PBX clients for the conformance suite: each speaks one protocol's real wire format."""
