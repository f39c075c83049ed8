"""The knowledge-base directory and its published versions in the database.

The YAML directory stays the source (git-friendly); the database keeps every version and which
one is published, so that all bridge processes run the same one and pick up a new publication
without a restart (telephony_bridge.kb_reload polls it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from voicebot.kb_edit import content_hash, draft_from_files, read_files, write_directory
from voicebot.store.kb_versions import KbVersion, KbVersionConflict, KbVersionStore

DIRECTORY_AUTHOR = "каталог"


@dataclass(frozen=True)
class Synced:
    """The version that matches the directory, and whether it was published just now."""

    version: KbVersion
    published_now: bool


def publish_directory(
    versions: KbVersionStore,
    root: Path,
    *,
    author: str = DIRECTORY_AUTHOR,
    message: str = "опубликовано из каталога",
    now: datetime | None = None,
) -> Synced:
    """Make the directory's content the published version (a no-op if it already is).

    Two processes doing this at once: one saves, the other finds the same content on retry."""
    files = read_files(root)
    wanted = content_hash(files)
    for _attempt in range(3):
        published = versions.published()
        if published is not None and published.content_hash == wanted:
            return Synced(published, False)
        head = versions.head()
        if head is not None and head.content_hash == wanted:
            return Synced(versions.publish(head.id, author, now), True)
        try:
            saved = versions.save(files, author, message, head.id if head else None, now=now)
        except KbVersionConflict:
            continue  # someone saved meanwhile: look again
        return Synced(versions.publish(saved.id, author, now), True)
    raise KbVersionConflict("не удалось опубликовать каталог: версии меняются одновременно")


HISTORY_LOOKBACK = 1000  # how many versions back a directory counts as merely out of date


def sync_at_start(
    versions: KbVersionStore, root: Path, *, now: datetime | None = None
) -> KbVersion:
    """What a bridge runs at start-up, with the directory and the database agreeing afterwards.

    Nothing published yet, or the directory holds content never saved (someone edited the YAML):
    the directory is published. The directory holds an older saved version (the editor published
    since, perhaps from another host): the published version is written into the directory."""
    files = read_files(root)
    wanted = content_hash(files)
    published = versions.published()
    if published is None or published.content_hash == wanted:
        return publish_directory(versions, root, now=now).version
    known = {v.content_hash for v in versions.history(HISTORY_LOOKBACK)}
    if wanted not in known:
        return publish_directory(versions, root, message="изменения в каталоге", now=now).version
    write_directory(draft_from_files(dict(published.files)), root)
    return published
