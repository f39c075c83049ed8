"""The knowledge-base editor's API over HTTP (httpx against uvicorn on loopback): the console and
editor routers on a temp SQLite file whose KbVersionStore holds a small knowledge base. Edits make
versions, stale revisions get a Russian 409, invalid entries a 422 with problems per field,
publishing replays and publishes, operators are refused.

`kb_server` is shared with tests/test_kb_editor_page.py (Playwright).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bridge_server import serving
from fastapi import FastAPI
from test_console_api import CHEAP, ConsoleServer, FakeClock

from telephony_bridge.console import ConsoleSettings, console_router
from telephony_bridge.console.editor import Editor, editor_router
from voicebot.embedding import HashingEmbedder
from voicebot.kb_edit import (
    KbDraft,
    create_entry,
    draft_from_files,
    entry_revision,
    read_files,
    render_files,
    update_entry,
)
from voicebot.knowledge import FaqEntry, KnowledgeBase
from voicebot.matcher import Matcher
from voicebot.store import CallStore
from voicebot.store.kb_versions import KbVersionStore
from voicebot.store.queue import QueueStore
from voicebot.store.users import UserStore
from voicebot.text import IdentityLemmatizer

BOT: dict[str, Any] = {
    "name": "Тестовая линия",
    "topics": {"billing": {"title": "Оплата"}, "tech": {"title": "Техподдержка"}},
    "thresholds": {"answer": 0.6, "clarify": 0.45, "margin": 0.04},
}
FAQ: dict[str, list[dict[str, Any]]] = {
    "billing": [
        {
            "id": "balance-check",
            "topic": "billing",
            "title": "проверка баланса",
            "questions": ["как узнать баланс", "сколько денег на счету"],
            "answer": "Баланс можно узнать в личном кабинете.",
            "escalate": False,
        },
        {
            "id": "payment-methods",
            "topic": "billing",
            "title": "способы оплаты",
            "questions": ["как оплатить интернет", "способы оплаты услуг"],
            "answer": "Оплатить можно картой на сайте.",
            "escalate": False,
        },
    ],
    "tech": [
        {
            "id": "internet-down",
            "topic": "tech",
            "title": "неработающий интернет",
            "questions": ["не работает интернет", "пропал интернет"],
            "answer": "Перезагрузите роутер.",
            "escalate": False,
        }
    ],
}
EVAL = [
    {"text": "как узнать баланс", "expected": "balance-check"},
    {"text": "пропал интернет", "expected": "internet-down"},
    {"text": "как оформить возврат денег", "expected": "refund"},
]


def seed_files() -> dict[str, str]:
    """The small knowledge base as source files."""

    def dump(data: object) -> str:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)

    files = {"bot.yaml": dump(BOT)} | {f"faq/{t}.yaml": dump(items) for t, items in FAQ.items()}
    files["eval/cases.jsonl"] = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in EVAL)
    return files


@dataclass
class KbServer:
    """The console with the editor router over a seeded version store."""

    console: ConsoleServer
    versions: KbVersionStore
    built: list[str]  # the entry ids of each knowledge base a matcher was built for
    kb_dir: Path  # where a publication writes the knowledge base

    @property
    def base(self) -> str:
        """The server's origin."""
        return self.console.base


@contextmanager
def kb_server(tmp_path: Path) -> Iterator[KbServer]:
    """Console + editor routers in uvicorn; version 1 (published) is the small knowledge base."""
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    calls = CallStore(url)
    queue = QueueStore(url, migrate=False)
    users = UserStore(url, migrate=False, scrypt=CHEAP)
    versions = KbVersionStore(url, migrate=False)
    clock = FakeClock()
    before = clock() - timedelta(hours=1)  # the router publishes at clock() time
    first = versions.save(seed_files(), "seed", "исходная база", None, now=before)
    versions.publish(first.id, "seed", before)
    built: list[str] = []

    def matcher_for(kb: KnowledgeBase) -> Matcher:
        built.append(",".join(e.id for e in kb.entries))
        return Matcher(kb, HashingEmbedder(), IdentityLemmatizer(), cache_dir=tmp_path / "cache")

    settings = ConsoleSettings(heartbeat_s=1.0)
    app = FastAPI()
    router = console_router(users, queue, calls, clock=clock, settings=settings)
    app.include_router(router)
    app.include_router(
        editor_router(
            versions,
            users,
            matcher_for=matcher_for,
            clock=clock,
            console_settings=settings,
            kb_dir=tmp_path / "knowledge_base",
        )
    )
    with serving(app) as port:
        console = ConsoleServer(
            f"http://127.0.0.1:{port}", url, users, queue, calls, clock, app, router
        )
        try:
            yield KbServer(console, versions, built, tmp_path / "knowledge_base")
        finally:
            for store in (users, queue, calls, versions):
                store.close()


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[KbServer]:
    with kb_server(tmp_path) as server:
        yield server


@pytest.fixture
def editor(srv: KbServer) -> Iterator[httpx.Client]:
    """A signed-in supervisor."""
    with srv.console.client(srv.console.user("supervisor")) as client:
        yield client


def entries(client: httpx.Client) -> dict[str, dict[str, Any]]:
    reply = client.get("/console/kb/api/entries")
    assert reply.status_code == 200, reply.text
    return {e["id"]: e for e in reply.json()["entries"]}


NEW = {
    "id": "refund",
    "topic": "billing",
    "title": "возврат денег",
    "questions": "как оформить возврат денег\nвернуть деньги за услугу",
    "answer": "Заявление на возврат подаётся в личном кабинете.",
    "escalate": False,
}


def test_entries_are_the_newest_version(srv: KbServer, editor: httpx.Client) -> None:
    data = editor.get("/console/kb/api/entries").json()
    assert data["version"] == data["published"] == 1
    assert [t["name"] for t in data["topics"]] == ["billing", "tech"]
    assert [e["id"] for e in data["entries"]] == [
        "balance-check",
        "payment-methods",
        "internet-down",
    ]
    assert data["entries"][0]["questions"] == ["как узнать баланс", "сколько денег на счету"]
    assert len(data["entries"][0]["revision"]) > 8


def test_create_update_delete_make_versions(srv: KbServer, editor: httpx.Client) -> None:
    created = editor.post("/console/kb/api/entries", json=NEW)
    assert created.status_code == 200, created.text
    assert created.json()["version"] == 2
    refund = entries(editor)["refund"]
    assert refund["questions"] == ["как оформить возврат денег", "вернуть деньги за услугу"]
    head = srv.versions.head()
    assert head is not None and head.parent_id == 1
    assert "refund" in head.files["faq/billing.yaml"]
    assert draft_from_files(head.files).entry("refund") is not None

    changed = NEW | {"answer": "Возврат оформляет оператор.", "escalate": True}
    reply = editor.put(
        "/console/kb/api/entries/refund", json=changed | {"based_on": refund["revision"]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 3
    now = entries(editor)["refund"]
    assert now["answer"] == "Возврат оформляет оператор." and now["escalate"] is True
    assert now["revision"] != refund["revision"]

    # the console's guard wants JSON on every non-GET: the page sends DELETE with `{}`
    gone = editor.request(
        "DELETE", "/console/kb/api/entries/refund", params={"based_on": now["revision"]}, json={}
    )
    assert gone.status_code == 200, gone.text
    assert "refund" not in entries(editor)
    assert [v.id for v in srv.versions.history()] == [4, 3, 2, 1]
    assert srv.versions.published() is not None and srv.versions.published().id == 1  # type: ignore[union-attr]


def test_two_editors_on_the_same_revision_the_second_gets_409(
    srv: KbServer, editor: httpx.Client
) -> None:
    other_login = srv.console.user("admin")
    balance = entries(editor)["balance-check"]
    body = {k: balance[k] for k in ("id", "topic", "title", "questions", "escalate")}
    first = editor.put(
        "/console/kb/api/entries/balance-check",
        json=body | {"answer": "Баланс — в приложении.", "based_on": balance["revision"]},
    )
    assert first.status_code == 200, first.text
    with srv.console.client(other_login) as other:
        second = other.put(
            "/console/kb/api/entries/balance-check",
            json=body | {"answer": "Баланс — по СМС.", "based_on": balance["revision"]},
        )
    assert second.status_code == 409
    error = second.json()["error"]
    assert "изменилась, пока вы её редактировали" in error
    assert "Ваши изменения не сохранены" in error
    assert second.json()["current"]["answer"] == "Баланс — в приложении."
    assert entries(editor)["balance-check"]["answer"] == "Баланс — в приложении."
    head = srv.versions.head()
    assert head is not None and head.id == 2


def test_an_edit_of_another_entry_after_a_save_is_applied(
    srv: KbServer, editor: httpx.Client
) -> None:
    read = entries(editor)
    assert editor.post("/console/kb/api/entries", json=NEW).status_code == 200
    down = read["internet-down"]  # read before the other save: still its revision
    body = {k: down[k] for k in ("id", "topic", "title", "questions", "escalate")}
    reply = editor.put(
        "/console/kb/api/entries/internet-down",
        json=body | {"answer": "Выключите роутер на минуту.", "based_on": down["revision"]},
    )
    assert reply.status_code == 200, reply.text
    now = entries(editor)
    assert "refund" in now and now["internet-down"]["answer"] == "Выключите роутер на минуту."


def test_a_save_racing_another_is_reapplied_on_the_new_head(tmp_path: Path) -> None:
    versions = KbVersionStore(f"sqlite:///{tmp_path / 'race.db'}")
    versions.save(seed_files(), "seed", "исходная база", None)
    editor = Editor(versions, None)
    _, draft = editor.head()
    down = draft.entry("internet-down")
    assert down is not None
    seen: list[int] = []

    def edit(current: KbDraft) -> KbDraft:
        seen.append(len(current.entries))
        if len(seen) == 1:  # another editor saves between our read and our save
            head = versions.head()
            assert head is not None
            other = create_entry(
                current, FaqEntry("refund", "billing", ("вернуть деньги",), "Да."), author="b"
            )
            versions.save(render_files(other), "b", "другая правка", head.id)
        changed = replace(down, answer="Выключите роутер на минуту.")
        return update_entry(
            current, "internet-down", changed, based_on=entry_revision(down), author="a"
        )

    saved = editor.commit(edit, "a", "правка")
    assert seen == [3, 4] and saved.version.id == 3 and saved.version.parent_id == 2
    assert saved.draft.entry("refund") is not None
    assert saved.draft.entry("internet-down").answer == "Выключите роутер на минуту."  # type: ignore[union-attr]
    versions.close()


def test_invalid_input_gets_422_with_problems_per_field(
    srv: KbServer, editor: httpx.Client
) -> None:
    reply = editor.post("/console/kb/api/entries", json=NEW | {"answer": "  "})
    assert reply.status_code == 422
    problems = reply.json()["problems"]
    assert any(p["field"] == "answer" and "пустой ответ" in p["message"] for p in problems)
    taken = editor.post("/console/kb/api/entries", json=NEW | {"questions": "пропал интернет"})
    assert taken.status_code == 422
    assert any(p["field"] == "questions" for p in taken.json()["problems"])
    malformed = editor.post("/console/kb/api/entries", json=NEW | {"escalate": "да"})
    assert malformed.status_code == 422 and "escalate" in malformed.json()["error"]
    head = srv.versions.head()
    assert head is not None and head.id == 1  # nothing saved


def test_check_validates_without_saving(srv: KbServer, editor: httpx.Client) -> None:
    good = editor.post("/console/kb/api/check", json=NEW)
    assert good.status_code == 200 and good.json()["ok"] is True
    bad = editor.post("/console/kb/api/check", json=NEW | {"answer": ""})
    assert bad.json()["ok"] is False
    assert [p["field"] for p in bad.json()["problems"]] == ["answer"]
    balance = entries(editor)["balance-check"]
    existing = editor.post(
        "/console/kb/api/check",
        json={k: balance[k] for k in ("id", "topic", "title", "questions", "answer")}
        | {"original": "balance-check", "based_on": balance["revision"]},
    )
    assert existing.json()["ok"] is True
    stale = editor.post(
        "/console/kb/api/check",
        json=NEW | {"id": "balance-check", "original": "balance-check", "based_on": "old"},
    )
    assert stale.status_code == 409
    head = srv.versions.head()
    assert head is not None and head.id == 1


def test_try_answers_with_the_newest_version(srv: KbServer, editor: httpx.Client) -> None:
    reply = editor.post("/console/kb/api/try", json={"text": "пропал интернет"})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["kind"] == "answer" and data["entry_id"] == "internet-down"
    assert data["answer"] == "Перезагрузите роутер."
    assert len(data["candidates"]) == 3 and data["candidates"][0]["entry_id"] == "internet-down"
    assert data["candidates"][0]["score"] >= data["candidates"][1]["score"]
    editor.post("/console/kb/api/try", json={"text": "как узнать баланс"})
    assert len(srv.built) == 1  # one matcher per version, cached
    assert editor.post("/console/kb/api/entries", json=NEW).status_code == 200
    refund = editor.post("/console/kb/api/try", json={"text": "вернуть деньги за услугу"}).json()
    assert refund["entry_id"] == "refund" and len(srv.built) == 2
    empty = editor.post("/console/kb/api/try", json={"text": " "})
    assert empty.status_code == 422


def test_publish_preview_then_publish(srv: KbServer, editor: httpx.Client) -> None:
    same = editor.post("/console/kb/api/publish/preview", json={}).json()
    assert same["same"] is True and same["changed"] == []
    assert editor.post("/console/kb/api/entries", json=NEW).status_code == 200
    preview = editor.post("/console/kb/api/publish/preview", json={})
    assert preview.status_code == 200, preview.text
    data = preview.json()
    assert data["available"] is True and data["version"] == 2 and data["published"] == 1
    assert data["cases"] == 3
    assert data["accuracy_after"] > data["accuracy_before"]
    refund = [c for c in data["changed"] if c["text"] == "как оформить возврат денег"]
    assert refund and refund[0]["after"]["entry_id"] == "refund"
    assert refund[0]["verdict"] == "better"

    stale = editor.post("/console/kb/api/publish", json={"version": 1})
    assert stale.status_code == 409 and "Проверьте ещё раз" in stale.json()["error"]
    done = editor.post("/console/kb/api/publish", json={"version": 2})
    assert done.status_code == 200 and done.json() == {"published": 2}
    published = srv.versions.published()
    assert published is not None and published.id == 2
    # the YAML directory follows the publication (it stays the source a restart reads)
    assert read_files(srv.kb_dir) == dict(published.files)


def test_operators_are_refused(srv: KbServer) -> None:
    with srv.console.client(srv.console.user("operator")) as operator:
        assert operator.get("/console/kb/api/entries").status_code == 403
        refused = operator.post("/console/kb/api/entries", json=NEW)
        assert refused.status_code == 403 and "Доступ запрещён" in refused.json()["error"]
        page = operator.get("/console/kb")
        assert page.status_code == 403 and "Доступ запрещён" in page.text
    with srv.console.client() as anonymous:
        assert anonymous.get("/console/kb/api/entries").status_code == 401
    head = srv.versions.head()
    assert head is not None and head.id == 1


def test_a_post_from_another_site_is_refused(srv: KbServer, editor: httpx.Client) -> None:
    reply = editor.post(
        "/console/kb/api/entries", json=NEW, headers={"Origin": "https://evil.example"}
    )
    assert reply.status_code == 403
    head = srv.versions.head()
    assert head is not None and head.id == 1
