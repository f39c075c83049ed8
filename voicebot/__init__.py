"""voicebot: a Russian-language speech-AI first line for telephone hotlines."""

__version__ = "0.1.0"
