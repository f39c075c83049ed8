"""The local model store: install (download or mirror), locate and verify the product's models.

Layout: `<root>/<model name>/<file path>` holds each installed model; `<root>/.tmp/` holds
downloads in progress. A model is fetched and checked in `.tmp/` and only then renamed into
place, so an interrupted or corrupt download never replaces a good install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path

from voicebot.errors import ModelMissingError, ModelStoreError
from voicebot.model_fetch import ProgressFn, check_file, copy_file, extract_archive, fetch_url
from voicebot.model_manifest import FileSpec, Manifest, ModelSpec, load_manifest

__all__ = ["Manifest", "ModelSpec", "ModelStatus", "ModelStore", "ProgressFn", "load_manifest"]

TMP_DIR = ".tmp"


class ModelStatus(StrEnum):
    """Install state of one model."""

    INSTALLED = "installed"
    MISSING = "missing"
    CORRUPT = "corrupt"


def fix_command(model: ModelSpec) -> str:
    """The command line(s) that install `model`, for error messages."""
    mirror = f"voicebot models download {model.name} --mirror DIR"
    if model.mirror_only:
        return f"`{mirror}` (this model has no public download URL; DIR must hold it)"
    return f"`voicebot models download {model.name}` (air-gapped: `{mirror}`)"


class ModelStore:
    """Models installed under `root`, as described by `manifest`."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    def model_dir(self, name: str) -> Path:
        """Where model `name` is (or would be) installed."""
        return self.root / self.manifest.get(name).name

    def status(self, name: str, full: bool = False) -> ModelStatus:
        """Installed / missing / corrupt; `full` also checks digests, else only sizes."""
        model = self.manifest.get(name)
        if not self.model_dir(name).is_dir():
            return ModelStatus.MISSING
        problems = self._problems(model, full=full)
        return ModelStatus.CORRUPT if problems else ModelStatus.INSTALLED

    def path_of(self, name: str) -> Path:
        """The directory of an installed model; ModelMissingError naming the fix otherwise."""
        model = self.manifest.get(name)
        where = self.model_dir(name)
        if not where.is_dir():
            raise ModelMissingError(
                f"model {name!r} ({model.kind}) is not installed in {self.root}. "
                f"Fix: {fix_command(model)}"
            )
        problems = self._problems(model, full=False)
        if problems:
            raise ModelMissingError(
                f"model {name!r} ({model.kind}) in {where} is incomplete or damaged "
                f"({problems[0]}). Fix: {fix_command(model)}"
            )
        return where

    def entry_path(self, name: str) -> Path:
        """The file an engine loads (the model's `entry`), or its directory when it has none."""
        model = self.manifest.get(name)
        where = self.path_of(name)
        return where / model.entry if model.entry else where

    def verify(self, name: str) -> list[str]:
        """Every problem of an installed model, checking sizes and digests (empty: all good)."""
        model = self.manifest.get(name)
        if not self.model_dir(name).is_dir():
            return [f"not installed; fix: {fix_command(model)}"]
        return self._problems(model, full=True)

    def _problems(self, model: ModelSpec, full: bool, base: Path | None = None) -> list[str]:
        where = base if base is not None else self.root / model.name
        problems: list[str] = []
        for spec in model.files:
            digests = spec.digests if full else {}
            problems += [
                f"{spec.path}: {p}" for p in check_file(where / spec.path, spec.size, digests)
            ]
        return problems

    def download(
        self,
        name: str,
        mirror: Path | None = None,
        progress: ProgressFn | None = None,
        force: bool = False,
    ) -> bool:
        """Install model `name` from its URLs or from `mirror`; False if it was already good."""
        model = self.manifest.get(name)
        target = self.model_dir(name)
        self._clean_leftovers(name)
        if not force and target.is_dir() and not self._problems(model, full=True):
            return False
        if mirror is None and model.mirror_only:
            raise ModelStoreError(
                f"model {name!r} has no public download URL (mirror-only). "
                f"Install it with {fix_command(model)}"
            )
        if mirror is not None and not mirror.is_dir():
            raise ModelStoreError(f"mirror folder not found: {mirror}")
        tmp_base = self.root / TMP_DIR
        tmp_base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{name}@", dir=tmp_base))
        try:
            if model.archive is not None:
                tree = self._fetch_archive(model, staging, mirror, progress)
            else:
                tree = self._fetch_files(model, staging, mirror, progress)
            problems = self._problems(model, full=True, base=tree)
            if problems:
                raise ModelStoreError(
                    f"model {name!r} failed verification, nothing was installed: "
                    + "; ".join(problems)
                )
            self._swap_in(tree, target, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                tmp_base.rmdir()  # only when empty: other downloads may be running
        return True

    def _fetch_files(
        self, model: ModelSpec, staging: Path, mirror: Path | None, progress: ProgressFn | None
    ) -> Path:
        tree = staging / "model"
        for spec in model.files:
            dest = tree / spec.path
            label = f"{model.name}: {spec.path}"
            if mirror is not None:
                source = _mirror_file(mirror, model.name, spec)
                origin = str(source)
                copy_file(source, dest, label, progress)
            else:
                assert spec.url is not None  # the manifest guarantees a url when not mirror-only
                origin = spec.url
                fetch_url(spec.url, dest, label, spec.size, progress)
            problems = check_file(dest, spec.size, spec.digests)
            if problems:
                raise ModelStoreError(
                    f"model {model.name!r}: {spec.path} from {origin}: {problems[0]}; "
                    "nothing was installed"
                )
        return tree

    def _fetch_archive(
        self, model: ModelSpec, staging: Path, mirror: Path | None, progress: ProgressFn | None
    ) -> Path:
        archive = model.archive
        assert archive is not None
        label = f"{model.name}: {archive.filename}"
        packed = staging / archive.filename
        if mirror is not None:
            found = _mirror_archive(mirror, model)
            if found.is_dir():  # an unpacked copy, e.g. another machine's models/store
                tree = staging / "model"
                shutil.copytree(found, tree, symlinks=False)
                return tree
            copy_file(found, packed, label, progress)
            origin = str(found)
        else:
            assert archive.url is not None
            fetch_url(archive.url, packed, label, archive.size, progress)
            origin = archive.url
        checks = {"sha256": archive.sha256} if archive.sha256 else {}
        problems = check_file(packed, archive.size, checks)
        if problems:
            raise ModelStoreError(
                f"model {model.name!r}: {origin}: {problems[0]}; nothing was installed"
            )
        unpacked = staging / "unpacked"
        extract_archive(packed, archive.format, unpacked)
        packed.unlink()
        tree = unpacked / archive.root if archive.root else unpacked
        if not tree.is_dir():
            raise ModelStoreError(
                f"model {model.name!r}: {archive.filename} has no folder {archive.root!r}"
            )
        return tree

    def _swap_in(self, tree: Path, target: Path, staging: Path) -> None:
        """Rename the checked tree into place; the old install is removed only afterwards."""
        old = staging / "previous"
        had_old = target.exists()
        if had_old:
            os.replace(target, old)
        try:
            os.replace(tree, target)
        except OSError as exc:
            if had_old:
                os.replace(old, target)
            raise ModelStoreError(f"cannot move the model into {target}: {exc}") from exc

    def _clean_leftovers(self, name: str) -> None:
        """Remove staging folders of an interrupted download, restoring a displaced install."""
        target = self.model_dir(name)
        for leftover in (self.root / TMP_DIR).glob(f"{name}@*"):
            previous = leftover / "previous"
            if previous.is_dir() and not target.exists():
                os.replace(previous, target)
            shutil.rmtree(leftover, ignore_errors=True)


def _mirror_file(mirror: Path, name: str, spec: FileSpec) -> Path:
    """Find a file in a mirror: `<name>/<path>`, then `<path>`, then the bare basename."""
    basename = spec.path.rsplit("/", 1)[-1]
    candidates = [mirror / name / spec.path, mirror / spec.path, mirror / basename]
    existing = [c for c in candidates if c.is_file()]
    for candidate in existing:  # flat mirrors may hold several files with one basename
        if candidate.stat().st_size == spec.size:
            return candidate
    if existing:
        return existing[0]
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ModelStoreError(f"model {name!r}: {spec.path} is not in the mirror (looked at {looked})")


def _mirror_archive(mirror: Path, model: ModelSpec) -> Path:
    """Find an archive model in a mirror: the archive file, or an already unpacked folder."""
    assert model.archive is not None
    filename = model.archive.filename
    for candidate in (mirror / model.name / filename, mirror / filename):
        if candidate.is_file():
            return candidate
    unpacked = mirror / model.name
    if unpacked.is_dir() and all((unpacked / f.path).is_file() for f in model.files):
        return unpacked
    raise ModelStoreError(
        f"model {model.name!r} is not in the mirror (looked for {mirror / model.name / filename}, "
        f"{mirror / filename} and an unpacked folder {unpacked})"
    )
