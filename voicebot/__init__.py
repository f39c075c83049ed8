"""voicebot: a Russian-language speech-AI first line for telephone hotlines."""

import os

# numpy's OpenBLAS threads spin-wait after each large matrix product and then fight torch's
# threads for the cores: on 2 cores that tripled the p95 matching time of a 2,000-entry
# knowledge base (bench/matching.py). Our matrix products are small enough for one thread.
# Set before anything imports numpy; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
