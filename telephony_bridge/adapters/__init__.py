"""PBX wire protocols, one module each; `adapter_specs()` lists what the bridge serves."""

from __future__ import annotations

from telephony_bridge.adapters import (
    asterisk_websocket,
    audiosocket,
    freeswitch,
    generic,
    jambonz,
    twilio,
)
from telephony_bridge.adapters.base import AdapterSpec


def adapter_specs() -> tuple[AdapterSpec, ...]:
    """Every protocol the bridge serves (AudioSocket's has no path: it is served over TCP)."""
    return (
        generic.SPEC,
        asterisk_websocket.SPEC,
        audiosocket.SPEC,
        freeswitch.FORK_SPEC,
        freeswitch.STREAM_SPEC,
        twilio.SPEC,
        jambonz.SPEC,
    )
