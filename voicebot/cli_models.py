"""`voicebot models ...`: list, download (or install from a mirror) and verify the models."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from voicebot.errors import VoicebotError
from voicebot.model_manifest import ModelSpec
from voicebot.model_store import ModelStore, load_manifest

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

F = TypeVar("F", bound=Callable[..., Any])


def _models_dir_option(func: F) -> F:
    option = click.option(
        "--models-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="VOICEBOT_MODELS_DIR",
        default=Path("models"),
        show_default=True,
        help="Folder with manifest.toml and the store/ the models go to (env VOICEBOT_MODELS_DIR).",
    )
    return option(func)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the product's errors into a one-line message and exit code 1, no traceback."""
    try:
        yield
    except VoicebotError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_store(models_dir: Path) -> ModelStore:
    manifest = load_manifest(models_dir / "manifest.toml")
    return ModelStore(models_dir / "store", manifest)


def _pick(store: ModelStore, names: tuple[str, ...], everything: bool = False) -> list[str]:
    """Names given, or all models with --all, or the manifest's defaults; unknown ones fail."""
    if everything:
        return store.manifest.names()
    chosen = list(names) or store.manifest.default_names()
    for name in chosen:
        store.manifest.get(name)
    return chosen


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _source(model: ModelSpec) -> str:
    with_sha = sum(1 for f in model.files if f.sha256)
    md5_only = len(model.files) - with_sha
    counts = f"{with_sha} sha256" + (f", {md5_only} md5 only" if md5_only else "")
    checked = f"{len(model.files)} files ({counts})"
    if model.archive is not None:
        packed = "sha256" if model.archive.sha256 else "no digest"
        checked = f"{model.archive.format} ({packed}), {len(model.files)} inner files ({counts})"
    return f"mirror-only, {checked}" if model.mirror_only else checked


class _ProgressBars:
    """A ProgressFn showing one click progress bar per file on stderr."""

    def __init__(self) -> None:
        self._bar: ProgressBar[int] | None = None
        self._label: str | None = None
        self._done = 0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if label != self._label:
            self.close()
            self._label = label
            if total is None:
                click.echo(f"{label} (size unknown)", err=True)
            else:
                self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
                self._bar.__enter__()
        if self._bar is not None:
            self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Finish the current bar, if any."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        self._bar, self._label, self._done = None, None, 0


@click.group("models")
def models() -> None:
    """Download, list and verify the speech and embedding models."""


@models.command("list")
@_models_dir_option
def list_models(models_dir: Path) -> None:
    """List the manifest's models and whether they are installed (* = default)."""
    with _user_errors():
        store = _open_store(models_dir)
        defaults = set(store.manifest.defaults.values())
        click.echo(f"{'NAME':30} {'KIND':9} {'SIZE':>9}  {'STATUS':9}  {'LICENSE':10} SOURCE")
        for model in store.manifest.models:
            name = model.name + (" *" if model.name in defaults else "")
            status = store.status(model.name)
            click.echo(
                f"{name:30} {model.kind:9} {_human(model.total_size):>9}  {status:9}  "
                f"{model.license:10} {_source(model)}"
            )
        click.echo(f"store: {store.root.resolve()}  (* = default of its kind)")


@models.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every model of the manifest.")
@click.option(
    "--mirror",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="VOICEBOT_MODELS_MIRROR",
    help="Install from this local folder instead of the internet (env VOICEBOT_MODELS_MIRROR).",
)
@click.option("--force", is_flag=True, help="Reinstall even if the installed copy verifies.")
@_models_dir_option
def download(
    names: tuple[str, ...], everything: bool, mirror: Path | None, force: bool, models_dir: Path
) -> None:
    """Download (or copy from --mirror) and verify models; default: the default models."""
    with _user_errors():
        store = _open_store(models_dir)
        chosen = _pick(store, names, everything)
    failed = 0
    for name in chosen:
        bars = _ProgressBars()
        try:
            installed = store.download(name, mirror=mirror, progress=bars, force=force)
        except VoicebotError as exc:
            bars.close()
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        bars.close()
        verb = "installed" if installed else "already installed and verified"
        click.echo(f"{name}: {verb} in {store.model_dir(name)}")
    if failed:
        raise click.ClickException(f"{failed} of {len(chosen)} models were not installed")


@models.command("verify")
@click.argument("names", nargs=-1)
@_models_dir_option
def verify(names: tuple[str, ...], models_dir: Path) -> None:
    """Check installed models' sizes and digests; default: the default models."""
    with _user_errors():
        store = _open_store(models_dir)
        chosen = _pick(store, names)
    failed = 0
    for name in chosen:
        problems = store.verify(name)
        if not problems:
            click.echo(f"OK      {name}")
            continue
        failed += 1
        click.echo(f"FAILED  {name}")
        for problem in problems:
            click.echo(f"        {problem}")
    if failed:
        raise click.ClickException(f"{failed} of {len(chosen)} models failed verification")
