"""`voicebot kb publish DIR`: replay, then publish a knowledge-base directory to running bridges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from voicebot.config import Settings

RECENT_DAYS = 7
RECENT_CALLS = 500


@click.command("publish")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--author", default="", help="Who publishes (default: the system user name).")
@click.option("--message", default="опубликовано из каталога", help="What changed.")
@click.option("--dry-run", is_flag=True, help="Only replay and show the change in accuracy.")
def publish_command(directory: Path, author: str, message: str, dry_run: bool) -> None:
    """Replay the eval cases and recent callers' questions on the published knowledge base and
    on DIRECTORY, show the change, then publish DIRECTORY: every running bridge switches to it
    within seconds (calls in progress finish with the old one)."""
    import getpass

    from voicebot.composition import build_embedder, load_background
    from voicebot.engines.morphology import PymorphyLemmatizer
    from voicebot.errors import KnowledgeBaseError
    from voicebot.kb_edit import draft_from_files, read_files
    from voicebot.kb_publish import eval_cases_in, replay, utterances_from_turns
    from voicebot.kb_sync import publish_directory
    from voicebot.store import CallStore, default_database_url
    from voicebot.store.kb_versions import KbVersionStore

    settings = Settings(kb_dir=directory)
    url = settings.database_url or default_database_url(settings.data_dir)
    calls = CallStore(url)  # migrates the database once
    versions = KbVersionStore(url, migrate=False)
    files = read_files(directory)
    try:
        candidate = draft_from_files(files)
    except KnowledgeBaseError as exc:
        raise click.ClickException(f"каталог {directory} не опубликован: {exc}") from exc
    published = versions.published()
    if published is not None:
        since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
        turns = [t for c in calls.recent_calls(RECENT_CALLS) if c.started_at >= since
                 for t in calls.turns(c.call_id)]  # fmt: skip
        report = replay(
            draft_from_files(dict(published.files)),
            candidate,
            build_embedder(settings),
            PymorphyLemmatizer(),
            eval_cases_in(files),
            utterances_from_turns(turns),
            cache_dir=settings.cache_dir,
            background=load_background(),
        )
        click.echo(
            f"точность: {report.before.accuracy:.3f} -> {report.after.accuracy:.3f} "
            f"({report.accuracy_change:+.3f}); неверные ответы: "
            f"{report.before.wrong_answer_rate:.3f} -> {report.after.wrong_answer_rate:.3f}; "
            f"ответы вне темы: {report.before.oos_answer_rate:.3f} -> "
            f"{report.after.oos_answer_rate:.3f}"
        )
        click.echo(
            f"недавние вопросы звонивших: {report.utterances}, с ответом было "
            f"{report.answered_before}, станет {report.answered_after}; "
            f"решений изменится: {len(report.changed)}"
        )
        for change in report.changed[:20]:
            before = change.before.entry_id or change.before.kind
            after = change.after.entry_id or change.after.kind
            click.echo(f"  [{change.verdict}] «{change.text}»: {before} -> {after}")
    if dry_run:
        return
    synced = publish_directory(versions, directory, author=author or getpass.getuser(),
                               message=message)  # fmt: skip
    if synced.published_now:
        click.echo(f"опубликована версия {synced.version.id}; мосты переключатся за секунды")
    else:
        click.echo(f"версия {synced.version.id} уже опубликована: менять нечего")
