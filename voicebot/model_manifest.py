"""The model manifest: which models the product uses, where they come from, how to check them."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from voicebot.errors import ModelStoreError

KINDS = ("asr", "tts", "embedding")
ARCHIVE_FORMATS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX_RE = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}
_MODEL_KEYS = {
    "name",
    "kind",
    "language",
    "license",
    "description",
    "homepage",
    "provenance",
    "mirror_only",
    "entry",
    "archive",
    "files",
}
_FILE_KEYS = {"path", "url", "size", "sha256", "md5"}
_ARCHIVE_KEYS = {"url", "filename", "format", "root", "size", "sha256"}


@dataclass(frozen=True)
class FileSpec:
    """One file of a model: its path inside the model directory, size and digests."""

    path: str
    size: int
    sha256: str | None = None
    md5: str | None = None
    url: str | None = None

    @property
    def digests(self) -> dict[str, str]:
        """The known digests by algorithm name (sha256 first)."""
        found = {"sha256": self.sha256, "md5": self.md5}
        return {algo: value for algo, value in found.items() if value}


@dataclass(frozen=True)
class ArchiveSpec:
    """A model shipped as one archive; only the inner files listed in the model are checked."""

    filename: str
    format: str
    url: str | None = None
    root: str = ""
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One model of the manifest."""

    name: str
    kind: str
    language: str
    license: str
    description: str
    files: tuple[FileSpec, ...]
    archive: ArchiveSpec | None = None
    mirror_only: bool = False
    entry: str | None = None
    homepage: str | None = None
    provenance: str | None = None

    @property
    def total_size(self) -> int:
        """Bytes of the files the manifest knows (the archive's when it is known)."""
        if self.archive is not None and self.archive.size is not None:
            return self.archive.size
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Manifest:
    """All models plus the default model of each kind."""

    models: tuple[ModelSpec, ...]
    defaults: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Model names in manifest order."""
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelSpec:
        """The model called `name`; ModelStoreError naming the known models otherwise."""
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(self.names())
        raise ModelStoreError(f"unknown model {name!r}; the manifest has: {known}")

    def default_names(self) -> list[str]:
        """The default model names, in the order of KINDS."""
        return [self.defaults[k] for k in KINDS if k in self.defaults]


def safe_relpath(value: str, what: str) -> str:
    """Return `value` if it is a safe relative POSIX path, else raise ModelStoreError."""
    pure = PurePosixPath(value)
    bad = (
        not value
        or "\\" in value
        or pure.is_absolute()
        or ":" in pure.parts[0]
        or any(part in ("", ".", "..") for part in value.split("/"))
    )
    if bad:
        raise ModelStoreError(f"{what}: unsafe or empty path {value!r}")
    return value


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest.toml; every problem is reported in one ModelStoreError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelStoreError(f"model manifest not found: {path}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelStoreError(f"cannot read model manifest {path}: {exc}") from exc
    problems: list[str] = []
    models = _parse_models(data.get("models"), problems)
    defaults = _parse_defaults(data.get("defaults", {}), models, problems)
    unknown = set(data) - {"schema", "models", "defaults"}
    if unknown:
        problems.append(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    if data.get("schema", 1) != 1:
        problems.append(f"unsupported schema {data.get('schema')!r} (this version reads 1)")
    if problems:
        raise ModelStoreError(f"invalid model manifest {path}:\n  " + "\n  ".join(problems))
    return Manifest(models=tuple(models), defaults=defaults)


def _parse_models(raw: Any, problems: list[str]) -> list[ModelSpec]:
    if not isinstance(raw, list) or not raw:
        problems.append("no [[models]] entries")
        return []
    models: list[ModelSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"models[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: not a table")
            continue
        name = item.get("name")
        if isinstance(name, str):
            where = f"model {name!r}"
        try:
            model = _parse_model(item, where)
        except ModelStoreError as exc:
            problems.append(str(exc))
            continue
        if model.name in seen:
            problems.append(f"{where}: duplicate name")
        seen.add(model.name)
        models.append(model)
    return models


def _parse_model(item: dict[str, Any], where: str) -> ModelSpec:
    unknown = set(item) - _MODEL_KEYS
    if unknown:
        raise ModelStoreError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    text = {key: _str(item, key, where) for key in ("name", "kind", "language", "license")}
    text["description"] = _str(item, "description", where)
    if not _NAME_RE.match(text["name"]):
        raise ModelStoreError(f"{where}: name must match {_NAME_RE.pattern}")
    if text["kind"] not in KINDS:
        raise ModelStoreError(f"{where}: kind must be one of {', '.join(KINDS)}")
    mirror_only = item.get("mirror_only", False)
    if not isinstance(mirror_only, bool):
        raise ModelStoreError(f"{where}: mirror_only must be true or false")
    archive = _parse_archive(item["archive"], where, mirror_only) if "archive" in item else None
    raw_files = item.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        raise ModelStoreError(f"{where}: needs at least one [[models.files]] entry")
    files = tuple(_parse_file(f, where, archive is not None, mirror_only) for f in raw_files)
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        raise ModelStoreError(f"{where}: a file path is listed twice")
    entry = _opt_str(item, "entry", where)
    if entry is not None and entry not in paths:
        raise ModelStoreError(f"{where}: entry {entry!r} is not one of its files")
    return ModelSpec(
        **text,
        files=files,
        archive=archive,
        mirror_only=mirror_only,
        entry=entry,
        homepage=_opt_str(item, "homepage", where),
        provenance=_opt_str(item, "provenance", where),
    )


def _parse_file(raw: Any, where: str, inner: bool, mirror_only: bool) -> FileSpec:
    if not isinstance(raw, dict):
        raise ModelStoreError(f"{where}: a files entry is not a table")
    path = safe_relpath(_str(raw, "path", where), f"{where}: file")
    here = f"{where}, file {path!r}"
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise ModelStoreError(f"{here}: unknown keys {', '.join(sorted(unknown))}")
    url = _opt_str(raw, "url", here)
    if inner and url is not None:
        raise ModelStoreError(f"{here}: files of an archive model are checked inside it, no url")
    if not inner and not mirror_only and url is None:
        raise ModelStoreError(f"{here}: needs a url (or mark the model mirror_only)")
    if url is not None:
        _check_url(url, here)
    sha256, md5 = _digest(raw, "sha256", here), _digest(raw, "md5", here)
    if sha256 is None and md5 is None:
        raise ModelStoreError(f"{here}: needs sha256 (or md5 when no sha256 is published)")
    return FileSpec(
        path=path, size=_size(raw, here, required=True) or 0, sha256=sha256, md5=md5, url=url
    )


def _parse_archive(raw: Any, where: str, mirror_only: bool) -> ArchiveSpec:
    here = f"{where}, archive"
    if not isinstance(raw, dict):
        raise ModelStoreError(f"{here}: not a table")
    unknown = set(raw) - _ARCHIVE_KEYS
    if unknown:
        raise ModelStoreError(f"{here}: unknown keys {', '.join(sorted(unknown))}")
    url = _opt_str(raw, "url", here)
    if url is None and not mirror_only:
        raise ModelStoreError(f"{here}: needs a url (or mark the model mirror_only)")
    if url is not None:
        _check_url(url, here)
    filename = _opt_str(raw, "filename", here) or (url or "").rsplit("/", 1)[-1]
    if not filename or "/" in filename or filename in (".", ".."):
        raise ModelStoreError(f"{here}: needs a plain filename")
    fmt = _opt_str(raw, "format", here) or _guess_format(filename)
    if fmt not in ARCHIVE_FORMATS:
        raise ModelStoreError(f"{here}: format must be one of {', '.join(ARCHIVE_FORMATS)}")
    root = _opt_str(raw, "root", here) or ""
    if root:
        safe_relpath(root, f"{here} root")
    return ArchiveSpec(
        filename=filename,
        format=fmt,
        url=url,
        root=root,
        size=_size(raw, here, required=False),
        sha256=_digest(raw, "sha256", here),
    )


def _parse_defaults(raw: Any, models: list[ModelSpec], problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append("[defaults] must be a table")
        return {}
    kinds = {m.name: m.kind for m in models}
    defaults: dict[str, str] = {}
    for kind, name in raw.items():
        if kind not in KINDS:
            problems.append(f"[defaults]: unknown kind {kind!r}")
        elif not isinstance(name, str) or name not in kinds:
            problems.append(f"[defaults]: {kind} = {name!r} is not a model of the manifest")
        elif kinds[name] != kind:
            problems.append(f"[defaults]: {kind} = {name!r} is of kind {kinds[name]}")
        else:
            defaults[kind] = name
    return defaults


def _guess_format(filename: str) -> str:
    lowered = filename.lower()
    for fmt, suffixes in (
        ("zip", (".zip",)),
        ("tar.gz", (".tar.gz", ".tgz")),
        ("tar.bz2", (".tar.bz2",)),
        ("tar.xz", (".tar.xz",)),
        ("tar", (".tar",)),
    ):
        if lowered.endswith(suffixes):
            return fmt
    return ""


def _check_url(url: str, where: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise ModelStoreError(f"{where}: url must be http(s): {url!r}")


def _str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ModelStoreError(f"{where}: {key} must be a non-empty string")
    return value


def _opt_str(raw: dict[str, Any], key: str, where: str) -> str | None:
    return _str(raw, key, where) if key in raw else None


def _size(raw: dict[str, Any], where: str, required: bool) -> int | None:
    value = raw.get("size")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ModelStoreError(f"{where}: size must be a byte count (integer >= 0)")
    return value


def _digest(raw: dict[str, Any], algo: str, where: str) -> str | None:
    value = raw.get(algo)
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX_RE[algo].match(value):
        raise ModelStoreError(f"{where}: {algo} must be lowercase hex of the right length")
    return value
