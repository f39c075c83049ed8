"""Low-level model file I/O: streamed HTTP/mirror copies, digests, safe archive extraction."""

from __future__ import annotations

import hashlib
import shutil
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from voicebot.errors import ModelStoreError

ProgressFn = Callable[[str, int, int | None], None]
"""Progress callback: (label, bytes done so far, total bytes or None when unknown)."""

CHUNK = 1 << 20
USER_AGENT = "voicebot-models/1"
_TAR_MODES = {"tar": "r:", "tar.gz": "r:gz", "tar.bz2": "r:bz2", "tar.xz": "r:xz"}


def file_digests(path: Path, algos: tuple[str, ...]) -> dict[str, str]:
    """Hex digests of a file for each algorithm in `algos`, reading it once."""
    hashers = {algo: hashlib.new(algo) for algo in algos}
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {algo: hasher.hexdigest() for algo, hasher in hashers.items()}


def check_file(path: Path, size: int | None, digests: Mapping[str, str]) -> list[str]:
    """Problems of one file against its expected size and digests (empty list: it is good)."""
    if not path.is_file() or path.is_symlink():
        return ["missing"]
    actual = path.stat().st_size
    if size is not None and actual != size:
        return [f"size {actual} bytes, expected {size}"]
    got = file_digests(path, tuple(digests))
    return [
        f"{algo} mismatch (expected {want}, got {got[algo]})"
        for algo, want in digests.items()
        if got[algo] != want
    ]


def fetch_url(
    url: str,
    dest: Path,
    label: str,
    size: int | None,
    progress: ProgressFn | None,
    timeout: float = 60.0,
) -> None:
    """Stream `url` into `dest`; stop early when the server sends more than `size` bytes."""
    if not url.startswith(("https://", "http://")):
        raise ModelStoreError(f"refusing to download from a non-http(s) url: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = size if size is not None else (int(length) if length else None)
            _stream(response, dest, label, total, size, progress)
    except urllib.error.HTTPError as exc:
        raise ModelStoreError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ModelStoreError(f"download failed: {url}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise ModelStoreError(f"download failed: {url}: {exc}") from exc


def copy_file(src: Path, dest: Path, label: str, progress: ProgressFn | None) -> None:
    """Copy a mirror file into `dest`, reporting progress."""
    try:
        with src.open("rb") as fh:
            _stream(fh, dest, label, src.stat().st_size, None, progress)
    except OSError as exc:
        raise ModelStoreError(f"cannot copy {src}: {exc}") from exc


def _stream(
    source: BinaryIO,
    dest: Path,
    label: str,
    total: int | None,
    limit: int | None,
    progress: ProgressFn | None,
) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    if progress is not None:
        progress(label, 0, total)
    with dest.open("wb") as out:
        while chunk := source.read(CHUNK):
            done += len(chunk)
            if limit is not None and done > limit:
                raise ModelStoreError(f"{label}: more than the expected {limit} bytes")
            out.write(chunk)
            if progress is not None:
                progress(label, done, total)


def member_path(name: str) -> PurePosixPath:
    """The safe relative path of an archive member; ModelStoreError if it could escape."""
    cleaned = name.rstrip("/")
    parts = cleaned.split("/")
    unsafe = (
        not cleaned
        or "\\" in cleaned
        or cleaned.startswith("/")
        or ":" in parts[0]
        or any(part == ".." for part in parts)
    )
    if unsafe:
        raise ModelStoreError(f"unsafe archive member refused: {name!r}")
    return PurePosixPath(*[part for part in parts if part not in ("", ".")])


def extract_archive(archive: Path, fmt: str, dest: Path) -> None:
    """Unpack `archive` into `dest`, refusing links, devices and paths leaving `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "zip":
            _extract_zip(archive, dest)
        else:
            _extract_tar(archive, _TAR_MODES[fmt], dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ModelStoreError(f"{archive.name}: not a valid {fmt} archive: {exc}") from exc
    except OSError as exc:
        raise ModelStoreError(f"{archive.name}: cannot unpack: {exc}") from exc


def _target(dest: Path, name: str) -> Path:
    rel = member_path(name)
    target = dest.joinpath(*rel.parts) if rel.parts else dest
    if not target.resolve().is_relative_to(dest.resolve()):
        raise ModelStoreError(f"unsafe archive member refused: {name!r}")
    return target


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = _target(dest, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ModelStoreError(f"archive member is a symlink, refused: {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)


def _extract_tar(archive: Path, mode: str, dest: Path) -> None:
    with tarfile.open(archive, mode) as tf:  # type: ignore[call-overload]
        for member in tf:
            target = _target(dest, member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                src = tf.extractfile(member)
                if src is None:
                    raise ModelStoreError(f"cannot read archive member {member.name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            else:
                raise ModelStoreError(
                    f"archive member is a link or device, refused: {member.name!r}"
                )
