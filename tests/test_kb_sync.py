"""Publishing a knowledge-base directory as a version (voicebot.kb_sync, `voicebot kb publish`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from voicebot.cli import main
from voicebot.kb_edit import content_hash, read_files
from voicebot.kb_sync import publish_directory, sync_at_start
from voicebot.store.kb_versions import KbVersionStore


@pytest.fixture
def versions(tmp_path: Path) -> KbVersionStore:
    return KbVersionStore(f"sqlite:///{tmp_path / 'voicebot.db'}")


def test_the_directory_is_published_once_and_again_when_it_changes(
    versions: KbVersionStore, small_kb_dir: Path
) -> None:
    first = publish_directory(versions, small_kb_dir, author="анна")
    assert first.published_now and first.version.author == "анна"
    assert first.version.content_hash == content_hash(read_files(small_kb_dir))
    again = publish_directory(versions, small_kb_dir)
    assert not again.published_now and again.version.id == first.version.id

    faq = small_kb_dir / "faq" / "billing.yaml"
    faq.write_text(faq.read_text("utf-8").replace("картой на сайте", "картой в приложении"))
    changed = publish_directory(versions, small_kb_dir)
    assert changed.published_now and changed.version.id != first.version.id
    published = versions.published()
    assert published is not None and published.id == changed.version.id
    assert "картой в приложении" in published.files["faq/billing.yaml"]


def test_an_older_version_with_the_same_content_is_republished(
    versions: KbVersionStore, small_kb_dir: Path
) -> None:
    first = publish_directory(versions, small_kb_dir).version
    files = read_files(small_kb_dir)
    draft = dict(files, **{"faq/tech.yaml": files["faq/tech.yaml"] + "\n"})
    newer = versions.save(draft, "борис", "пробел", first.id)
    versions.publish(newer.id, "борис")
    head = versions.save(files, "борис", "назад", newer.id)  # the directory's content again
    synced = publish_directory(versions, small_kb_dir)
    assert synced.published_now and synced.version.id == head.id


def test_cli_publishes_a_directory_for_running_bridges(
    tmp_path: Path, small_kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["kb", "publish", str(small_kb_dir), "--author", "анна"])
    assert result.exit_code == 0, result.output
    assert "опубликована версия 1" in result.output
    # Now there is a published version: a dry run replays against it and publishes nothing.
    again = CliRunner().invoke(main, ["kb", "publish", str(small_kb_dir), "--dry-run"])
    assert again.exit_code == 0, again.output
    assert "точность: " in again.output and "опубликована" not in again.output


def test_cli_refuses_a_broken_directory(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "faq").mkdir(parents=True)
    (broken / "bot.yaml").write_text("name: x\ntopics: [a]\n", "utf-8")
    (broken / "faq" / "a.yaml").write_text("- id: Bad Id\n  topic: zzz\n", "utf-8")
    result = CliRunner().invoke(
        main, ["kb", "publish", str(broken)], env={"VOICEBOT_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.exit_code != 0 and "не опубликован" in result.output


def test_at_start_a_stale_directory_takes_the_published_version_a_new_one_is_published(
    versions: KbVersionStore, small_kb_dir: Path
) -> None:
    first = sync_at_start(versions, small_kb_dir)
    assert versions.published() == first
    files = read_files(small_kb_dir)
    edited = dict(files, **{"faq/tech.yaml": files["faq/tech.yaml"].replace("роутер", "модем")})
    newer = versions.save(edited, "редактор", "правка в редакторе", first.id)
    versions.publish(newer.id, "редактор")  # published from the editor, maybe on another host

    running = sync_at_start(versions, small_kb_dir)  # this host's directory is out of date
    assert running.id == newer.id
    assert read_files(small_kb_dir)["faq/tech.yaml"] == edited["faq/tech.yaml"]

    faq = small_kb_dir / "faq" / "billing.yaml"  # someone edits the YAML by hand
    faq.write_text(faq.read_text("utf-8").replace("личном кабинете", "приложении"), "utf-8")
    hand = sync_at_start(versions, small_kb_dir)
    assert hand.id not in (first.id, newer.id)
    published = versions.published()
    assert published is not None and published.id == hand.id
    assert "приложении" in published.files["faq/billing.yaml"]
