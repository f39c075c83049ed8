"""`voicebot serve`: the main job, the PBX bridge with everything it needs."""

from __future__ import annotations

import logging
import secrets
import threading
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

    from telephony_bridge.app import BridgeConfig, create_app
    from voicebot.call import CallEngines
    from voicebot.composition import build_call_engines, check_models, phrases_to_prepare
    from voicebot.errors import VoicebotError
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

    def load() -> CallEngines:
        engines = build_call_engines(settings)
        kb, speech = engines.policy.kb, engines.speech
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
    app = create_app(config, load)
    uvicorn.run(
        app,
        host=host or settings.bridge_host,
        port=port or settings.bridge_port,
        log_level="info",
        ws_max_size=65536,
    )
