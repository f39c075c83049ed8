"""`voicebot serve`: the main job, the PBX bridge with everything it needs."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from voicebot.config import Settings


@click.command("serve")
@click.option(
    "--kb",
    "kb_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Knowledge-base directory (default: VOICEBOT_KB_DIR or ./knowledge_base).",
)
@click.option("--host", default=None, help="Listen address (default: VOICEBOT_BRIDGE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: VOICEBOT_BRIDGE_PORT).")
def serve_command(kb_dir: Path | None, host: str | None, port: int | None) -> None:
    """Run the bridge for PBX calls (WebSocket routes of every adapter, AudioSocket over TCP when
    VOICEBOT_AUDIOSOCKET_PORT is set), /healthz, /readyz, /metrics."""
    import uvicorn

    from telephony_bridge.app import BridgeConfig, Runtime, create_app
    from telephony_bridge.console import ConsoleSettings, console_router
    from telephony_bridge.console.editor import editor_router
    from telephony_bridge.console.reports import ReportSettings, reports_router
    from telephony_bridge.kb_reload import KbPublicationPoller, KbReloader, rebuild_for
    from voicebot.call import CallEngines
    from voicebot.composition import (
        build_call_engines,
        build_embedder,
        build_handoff_desk,
        build_matcher,
        check_models,
        phrases_to_prepare,
    )
    from voicebot.embedding import Embedder
    from voicebot.errors import VoicebotError
    from voicebot.hold_line import HandoffDesk
    from voicebot.kb_sync import sync_at_start
    from voicebot.knowledge import KnowledgeBase, load_knowledge_base
    from voicebot.reports import Reports
    from voicebot.store import CallStore, default_database_url
    from voicebot.store.kb_versions import KbVersionStore
    from voicebot.store.queue import QueueStore
    from voicebot.store.users import UserStore
    from voicebot.tts import SpeechOutput

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings() if kb_dir is None else Settings(kb_dir=kb_dir)
    try:
        check_models(settings)
    except VoicebotError as exc:
        raise click.ClickException(f"[{exc.code}] {exc}") from exc
    token = settings.bridge_token
    if not token:
        token = secrets.token_urlsafe(16)
        click.echo(f"VOICEBOT_BRIDGE_TOKEN is not set; this run's token: {token}", err=True)

    url = settings.database_url or default_database_url(settings.data_dir)
    calls = CallStore(url)  # migrates the database once; the other stores share it as it is
    queue, users = QueueStore(url, migrate=False), UserStore(url, migrate=False)
    versions = KbVersionStore(url, migrate=False)
    running = sync_at_start(versions, settings.kb_dir)  # directory and database agree
    kb = load_knowledge_base(settings.kb_dir)  # after the sync, which may rewrite the directory
    topics = kb.config.topics
    console_settings = ConsoleSettings(
        topic_titles={name: topic.title for name, topic in topics.items()},
        secure_cookie=settings.console_secure_cookie,
        allowed_origins=settings.console_allowed_origins,
        client_address_header=settings.console_client_address_header,
    )
    console = console_router(
        users, queue, calls, clock=lambda: datetime.now(UTC), settings=console_settings
    )

    shared: dict[str, Embedder] = {}

    def load() -> CallEngines:
        shared["embedder"] = embedder = build_embedder(settings)
        engines = build_call_engines(settings, kb=kb, calls=calls, queue=queue, embedder=embedder)
        speech = engines.speech
        if isinstance(speech, SpeechOutput):  # pre-synthesise every answer and prompt

            def prepare() -> None:
                report = speech.prepare(phrases_to_prepare(kb), [8000, 16000])
                logging.getLogger("voicebot").info("speech cache ready: %s", report)

            threading.Thread(target=prepare, name="voicebot-prepare-speech", daemon=True).start()
        return engines

    config = BridgeConfig(
        token=token,
        audiosocket_host=settings.audiosocket_host,
        audiosocket_port=settings.audiosocket_port,
        twilio_workflow_sid=settings.twilio_workflow_sid,
        jambonz_sip_uri=settings.jambonz_sip_uri,
    )

    async def follow_publications(runtime: Runtime) -> None:
        """Switch to every knowledge base published later (`voicebot kb publish`, the editor)."""

        def desk_for(kb: KnowledgeBase) -> HandoffDesk:
            return build_handoff_desk(settings, kb, calls, queue)

        rebuild = rebuild_for(
            lambda kb: build_matcher(settings, kb, embedder=shared["embedder"]),
            desk_for=desk_for if settings.operator_queue else None,
        )
        reloader = KbReloader(runtime, rebuild, running_hash=running.content_hash)
        await KbPublicationPoller(versions, reloader).run()

    reports = reports_router(
        Reports(url, entry_topics={entry.id: entry.topic for entry in kb.entries}),
        users,
        clock=lambda: datetime.now(UTC),
        settings=ReportSettings(tz=settings.reports_timezone),
        console_settings=console_settings,
    )
    editor = editor_router(
        versions,
        users,
        matcher_for=lambda kb: build_matcher(settings, kb, embedder=shared.get("embedder")),
        clock=lambda: datetime.now(UTC),
        console_settings=console_settings,
        kb_dir=settings.kb_dir,
    )
    routers = [console, reports, editor]
    app = create_app(config, load, routers=routers, background=[follow_publications])
    uvicorn.run(
        app,
        host=host or settings.bridge_host,
        port=port or settings.bridge_port,
        log_level="info",
        ws_max_size=65536,
    )
