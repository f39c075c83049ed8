"""The knowledge-base editor (issue 6): a Russian page and a JSON API over KbVersionStore.

Mount next to the console (the same users and sessions):

    app.include_router(
        editor_router(versions, users, matcher_for=..., clock=clock, console_settings=settings)
    )

Routes (permission `kb.edit`: supervisor and admin):

    GET    /console/kb                        the page (kb.html + static/kb.js)
    GET    /console/kb/api/entries            the newest version's entries, topics, version id
    POST   /console/kb/api/entries            create an entry
    PUT    /console/kb/api/entries/{id}       update it; body has `based_on` (its revision)
    DELETE /console/kb/api/entries/{id}?based_on=...
    POST   /console/kb/api/check              validate an entry as typed, without saving
    POST   /console/kb/api/try                {text}: the newest version's decision
    POST   /console/kb/api/publish/preview    replay: the published version vs the newest
    POST   /console/kb/api/publish            publish the newest version ({version}: the one
                                              the preview was made on)
    GET    /console/kb/static/kb.js           the page's script

Every save is a new version on top of the newest (retried once when another save got in
between, by re-applying the edit on the new newest version). A stale `based_on` answers 409
{"error": <EditConflict's Russian message>}; an invalid entry 422 {"error", "problems"}.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from telephony_bridge.console.guard import SECURITY_HEADERS, Guard, page_context
from telephony_bridge.console.ports import ConsoleSettings
from voicebot.errors import KnowledgeBaseError
from voicebot.kb_edit import (
    EditConflict,
    EditRejected,
    EntryEdit,
    KbDraft,
    create_entry,
    delete_entry,
    draft_from_files,
    entry_revision,
    render_files,
    update_entry,
    write_directory,
)
from voicebot.kb_publish import ReplayReport, eval_cases_in, replay_matchers
from voicebot.knowledge import FaqEntry, KnowledgeBase, Problem
from voicebot.matcher import Matcher
from voicebot.store.kb_versions import KbVersion, KbVersionConflict, KbVersionStore
from voicebot.store.users import UserStore

HERE = Path(__file__).resolve().parent
PREFIX: Final = "/console/kb"
MatcherFor = Callable[[KnowledgeBase], Matcher]
Edit = Callable[[KbDraft, str], KbDraft]  # (the newest draft, the author) -> the edited draft
NO_MATCHER: Final = "Проверка ответов недоступна: сервер запущен без модели сопоставления."
NO_VERSION: Final = "База знаний ещё не сохранена ни в одной версии: загрузите её (voicebot kb)."
# Which entry field a validation message is about (knowledge.py's messages name the field).
FIELD_HINTS: Final = (
    ("answer", ("ответ", "answer")),
    ("questions", ("вопрос", "questions")),
    ("topic", ("тема", "topic")),
    ("escalate", ("escalate",)),
    ("id", ("id",)),
)
ACTION_EDITS: Final = ("create", "update", "delete")


class BadRequest(ValueError):
    """The request body is unusable; the message is Russian."""


@dataclass(frozen=True)
class Saved:
    """A new version and the draft it holds."""

    version: KbVersion
    draft: KbDraft


class MatcherCache:
    """Matchers by knowledge-base content hash (building one takes seconds); a few kept."""

    def __init__(self, matcher_for: MatcherFor, size: int = 3) -> None:
        """Build with `matcher_for`, keep the `size` most recent."""
        self._build = matcher_for
        self._size = size
        self._lock = threading.Lock()
        self._cache: dict[str, Matcher] = {}

    def get(self, key: str, kb: KnowledgeBase) -> Matcher:
        """The matcher of `kb` (whose content hash is `key`), built once."""
        with self._lock:
            matcher = self._cache.pop(key, None) or self._build(kb)
            self._cache[key] = matcher
            while len(self._cache) > self._size:
                self._cache.pop(next(iter(self._cache)))
            return matcher


def entry_json(entry: FaqEntry) -> dict[str, Any]:
    """An entry as the page edits it, with the revision edits are based on."""
    return {
        "id": entry.id,
        "topic": entry.topic,
        "title": entry.title,
        "questions": list(entry.questions),
        "answer": entry.answer,
        "escalate": entry.escalate,
        "revision": entry_revision(entry),
        "location": entry.location,
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    """A validation finding, with the entry field it is about ("" when none)."""
    lowered = re.sub(r"«[^»]*»", "", problem.message).lower()  # not the quoted ids and texts
    field = next((f for f, hints in FIELD_HINTS if any(h in lowered for h in hints)), "")
    return {
        "severity": problem.severity,
        "message": problem.message,
        "where": f"{problem.source}:{problem.line}" if problem.line else problem.source,
        "field": field,
    }


def entry_from_body(body: Any) -> FaqEntry:
    """The entry the page sent (questions: a list or one per line); BadRequest if malformed."""
    if not isinstance(body, dict):
        raise BadRequest("Ожидался объект JSON с полями записи.")
    questions = body.get("questions", [])
    if isinstance(questions, str):
        questions = questions.splitlines()
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise BadRequest("Поле questions: нужен список вопросов.")
    texts = {k: body.get(k, "") for k in ("id", "topic", "title", "answer")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise BadRequest("Поля id, topic, title и answer должны быть строками.")
    escalate = body.get("escalate", False)
    if not isinstance(escalate, bool):
        raise BadRequest("Поле escalate: нужно true или false.")
    return FaqEntry(
        id=texts["id"].strip(),
        topic=texts["topic"].strip(),
        title=texts["title"].strip(),
        questions=tuple(q.strip() for q in questions if q.strip()),
        answer=texts["answer"].strip(),
        escalate=escalate,
    )


def report_json(report: ReplayReport, entries: Mapping[str, FaqEntry]) -> dict[str, Any]:
    """The replay as the page shows it: accuracy before/after and the changed decisions."""

    def outcome(kind: str, entry_id: str | None, score: float) -> dict[str, Any]:
        found = entries.get(entry_id) if entry_id is not None else None
        title = found.spoken_title if found is not None else ""
        return {"kind": kind, "entry_id": entry_id, "title": title, "score": score}

    return {
        "available": True,
        "cases": report.after.cases,
        "accuracy_before": report.before.accuracy,
        "accuracy_after": report.after.accuracy,
        "wrong_before": report.before.wrong_answer_rate,
        "wrong_after": report.after.wrong_answer_rate,
        "changed": [
            {
                "source": c.source,
                "text": c.text,
                "verdict": c.verdict,
                "before": outcome(c.before.kind, c.before.entry_id, c.before.score),
                "after": outcome(c.after.kind, c.after.entry_id, c.after.score),
            }
            for c in report.changed
        ],
    }


def _based_on(raw: object) -> str:
    """The revision an edit is based on; BadRequest when missing."""
    if not isinstance(raw, str) or not raw:
        raise BadRequest("Не указана версия записи (based_on): откройте запись заново.")
    return raw


def _title(draft: KbDraft, entry_id: str) -> str:
    entry = draft.entry(entry_id)
    return entry.spoken_title if entry is not None else ""


def _warnings(draft: KbDraft, entry_id: str) -> list[dict[str, Any]]:
    """The draft's warnings about this entry."""
    mark = f"«{entry_id}»"
    return [problem_json(w) for w in draft.warnings if mark in w.message]


def _json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=dict(SECURITY_HEADERS))


def _error(message: str, status: int, **extra: Any) -> JSONResponse:
    return _json({"error": message} | extra, status)


def _rejected(error: EditRejected) -> JSONResponse:
    problems = [problem_json(p) for p in error.problems if p.severity == "error"]
    return _error(f"Не сохранено: {error}.", 422, problems=problems)


class Editor:
    """The editor's operations on the version store (synchronous: run them in a thread)."""

    def __init__(self, versions: KbVersionStore, matcher_for: MatcherFor | None) -> None:
        """Edit `versions`; try and replay with matchers from `matcher_for` when given."""
        self.versions = versions
        self.matchers = MatcherCache(matcher_for) if matcher_for is not None else None

    def head(self) -> tuple[KbVersion, KbDraft]:
        """The newest version and its draft; LookupError when nothing was saved yet."""
        head = self.versions.head()
        if head is None:
            raise LookupError(NO_VERSION)
        return head, draft_from_files(head.files, self._edits(head.files))

    def _edits(self, files: Mapping[str, str]) -> dict[str, EntryEdit]:
        """Who last touched each entry (for EditConflict's message)."""
        draft = draft_from_files(files)
        records = self.versions.last_edits([e.id for e in draft.entries])
        return {
            entry_id: EntryEdit(r.author, r.action)  # type: ignore[arg-type]
            for entry_id, r in records.items()
            if r.action in ACTION_EDITS
        }

    def commit(self, edit: Callable[[KbDraft], KbDraft], author: str, message: str) -> Saved:
        """Apply `edit` to the newest version and save the result; once more on a race."""
        for attempt in (1, 2):
            head, draft = self.head()
            changed = edit(draft)
            try:
                version = self.versions.save(render_files(changed), author, message, head.id)
            except KbVersionConflict:
                if attempt == 2:
                    raise
                continue
            return Saved(version, changed)
        raise AssertionError("unreachable")

    def matcher(self, version: KbVersion, draft: KbDraft) -> Matcher:
        """The (cached) matcher of a version."""
        assert self.matchers is not None
        return self.matchers.get(version.content_hash, draft.knowledge_base())


def editor_router(
    versions: KbVersionStore,
    users: UserStore,
    *,
    matcher_for: MatcherFor | None,
    clock: Callable[[], datetime],
    console_settings: ConsoleSettings | None = None,
    kb_dir: Path | None = None,
) -> APIRouter:
    """The knowledge-base editor's page and API under /console/kb, behind the console's sign-in;
    publishing also writes the version into `kb_dir` (the YAML directory stays the source)."""
    templates = Jinja2Templates(directory=HERE / "templates")
    guard = Guard(users, console_settings or ConsoleSettings(), clock, templates)
    editor = Editor(versions, matcher_for)
    router = APIRouter(prefix=PREFIX)

    async def body_of(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise BadRequest("Тело запроса — не JSON.") from None

    async def save(request: Request, edit: Edit, message: str, entry_id: str) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user
        author = user.login

        def run() -> Saved:
            return editor.commit(lambda draft: edit(draft, author), author, message)

        try:
            saved = await asyncio.to_thread(run)
        except EditConflict as error:
            current = entry_json(error.current) if error.current is not None else None
            return _error(str(error), 409, current=current)
        except KbVersionConflict as error:
            return _error(str(error), 409)
        except EditRejected as error:
            return _rejected(error)
        except LookupError as error:
            return _error(str(error), 409)
        entry = saved.draft.entry(entry_id)
        return _json(
            {
                "version": saved.version.id,
                "entry": entry_json(entry) if entry is not None else None,
                "warnings": _warnings(saved.draft, entry_id),
            }
        )

    @router.get("", include_in_schema=False)
    async def page(request: Request) -> Response:
        user = await guard.page(request, "kb.edit")
        if isinstance(user, Response):
            return user
        context = page_context(user, "kb") | {"can_try": matcher_for is not None}
        return templates.TemplateResponse(
            request, "kb.html", context, headers=dict(SECURITY_HEADERS)
        )

    @router.get("/api/entries")
    async def entries(request: Request) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user
        try:
            head, draft = await asyncio.to_thread(editor.head)
        except LookupError as error:
            return _error(str(error), 404)
        published = await asyncio.to_thread(versions.published)
        topics = [{"name": n, "title": t.title} for n, t in draft.config.topics.items()]
        return _json(
            {
                "version": head.id,
                "author": head.author,
                "saved_at": head.created_at.isoformat(),
                "published": published.id if published is not None else None,
                "topics": topics,
                "entries": [entry_json(e) for e in draft.entries],
            }
        )

    @router.post("/api/entries")
    async def create(request: Request) -> Response:
        try:
            entry = entry_from_body(await body_of(request))
        except BadRequest as error:
            return _error(str(error), 422, problems=[])
        return await save(
            request,
            lambda d, author: create_entry(d, entry, author=author),
            f"новая запись {entry.id}",
            entry.id,
        )

    @router.put("/api/entries/{entry_id}")
    async def update(request: Request, entry_id: str) -> Response:
        try:
            body = await body_of(request)
            entry = entry_from_body(body)
            based_on = _based_on(body.get("based_on"))
        except BadRequest as error:
            return _error(str(error), 422, problems=[])
        return await save(
            request,
            lambda d, author: update_entry(d, entry_id, entry, based_on=based_on, author=author),
            f"правка записи {entry_id}",
            entry.id,
        )

    @router.delete("/api/entries/{entry_id}")
    async def delete(request: Request, entry_id: str, based_on: str = "") -> Response:
        return await save(
            request,
            lambda d, author: delete_entry(d, entry_id, based_on=based_on, author=author),
            f"удалена запись {entry_id}",
            entry_id,
        )

    @router.post("/api/check")
    async def check(request: Request) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user
        try:
            body = await body_of(request)
            entry = entry_from_body(body)
            original = body.get("original") or ""
            based_on = _based_on(body.get("based_on")) if original else ""
        except BadRequest as error:
            return _error(str(error), 422, problems=[])

        def run() -> KbDraft:
            _, draft = editor.head()
            if original:
                return update_entry(draft, original, entry, based_on=based_on, author=user.login)
            return create_entry(draft, entry, author=user.login)

        try:
            checked = await asyncio.to_thread(run)
        except EditConflict as error:
            return _error(str(error), 409)
        except EditRejected as error:
            problems = [problem_json(p) for p in error.problems if p.severity == "error"]
            return _json({"ok": False, "problems": problems, "warnings": []})
        except LookupError as error:
            return _error(str(error), 404)
        return _json({"ok": True, "problems": [], "warnings": _warnings(checked, entry.id)})

    @router.post("/api/try")
    async def try_text(request: Request) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user
        if matcher_for is None:
            return _json({"available": False, "error": NO_MATCHER})
        body = await request.json()
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _error("Введите фразу, как её сказал бы звонящий.", 422)

        def run() -> dict[str, Any]:
            head, draft = editor.head()
            decision = editor.matcher(head, draft).match(text.strip())
            entry = draft.entry(decision.entry_id) if decision.entry_id else None
            return {
                "available": True,
                "version": head.id,
                "kind": decision.kind,
                "entry_id": decision.entry_id,
                "answer": entry.answer if entry is not None else "",
                "candidates": [
                    {
                        "entry_id": c.entry_id,
                        "title": _title(draft, c.entry_id),
                        "score": round(c.score, 4),
                    }
                    for c in decision.candidates[:3]
                ],
            }

        try:
            return _json(await asyncio.to_thread(run))
        except LookupError as error:
            return _error(str(error), 404)

    @router.post("/api/publish/preview")
    async def preview(request: Request) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user

        def run() -> dict[str, Any]:
            head, draft = editor.head()
            published = versions.published()
            base: dict[str, Any] = {
                "version": head.id,
                "published": published.id if published is not None else None,
                "same": published is not None and published.content_hash == head.content_hash,
            }
            if matcher_for is None:
                return base | {"available": False, "message": NO_MATCHER}
            if published is None:
                return base | {
                    "available": False,
                    "message": "Опубликованной версии ещё нет: сравнивать не с чем.",
                }
            old = draft_from_files(published.files)
            report = replay_matchers(
                editor.matcher(published, old),
                editor.matcher(head, draft),
                eval_cases_in(head.files),
            )
            return base | report_json(report, {e.id: e for e in draft.entries})

        try:
            return _json(await asyncio.to_thread(run))
        except LookupError as error:
            return _error(str(error), 404)
        except KnowledgeBaseError as error:
            return _error(f"Проверка невозможна: {error}", 422)

    @router.post("/api/publish")
    async def publish(request: Request) -> Response:
        user = await guard.api(request, "kb.edit")
        if isinstance(user, Response):
            return user
        body = await request.json()
        wanted = body.get("version") if isinstance(body, dict) else None

        def run() -> KbVersion:
            head = versions.head()
            if head is None:
                raise LookupError(NO_VERSION)
            if wanted is not None and wanted != head.id:
                raise KbVersionConflict(
                    f"После проверки базу знаний изменил(а) {head.author} (версия №{head.id}). "
                    "Проверьте ещё раз перед публикацией."
                )
            published = versions.publish(head.id, user.login, clock())
            if kb_dir is not None:
                write_directory(draft_from_files(dict(published.files)), kb_dir)
            return published

        try:
            version = await asyncio.to_thread(run)
        except LookupError as error:
            return _error(str(error), 404)
        except KbVersionConflict as error:
            return _error(str(error), 409)
        return _json({"published": version.id})

    @router.get("/static/kb.js", include_in_schema=False)
    async def script() -> Response:
        return FileResponse(
            HERE / "static" / "kb.js",
            media_type="text/javascript; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return router
