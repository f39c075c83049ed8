"""The error hierarchy: every error the product raises on purpose has a stable code."""

from __future__ import annotations


class VoicebotError(Exception):
    """Base of all voicebot errors; `code` is stable and safe to match on."""

    code = "voicebot_error"


class ConfigError(VoicebotError):
    """Bad or missing configuration, found at start-up."""

    code = "config_error"


class KnowledgeBaseError(VoicebotError):
    """A knowledge base that cannot be loaded; `problems` lists every finding."""

    code = "knowledge_base_invalid"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ModelMissingError(VoicebotError):
    """A model the product needs is not in the model store."""

    code = "model_missing"


class ModelStoreError(VoicebotError):
    """Downloading, unpacking or verifying a model failed."""

    code = "model_store_error"


class ImportFormatError(VoicebotError):
    """A spreadsheet or file to import is not in a usable shape."""

    code = "import_format_error"
