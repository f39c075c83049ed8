"""`voicebot call FILE.wav`: call the bot like a PBX would and show what happens, with latencies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from voicebot.audio import read_wav, write_wav

if TYPE_CHECKING:  # the CLI is a composition root: the bridge package is imported when used
    from telephony_bridge.simulator import CallEvent, CallReport

DEFAULT_URL = "ws://127.0.0.1:8080/ws/call"


def describe(event: CallEvent) -> str | None:
    """One log line for an event (None for events not worth a line)."""
    at = f"{event.at:7.2f} с"
    fields = event.fields
    if event.kind == "start":
        return f"{at}  звонок начат (call_id {event.text})"
    if event.kind == "transcript":
        if fields.get("final") == "false":
            return None
        return f"{at}  бот услышал: «{event.text}»"
    if event.kind == "say":
        kind = fields.get("kind", "")
        entry = fields.get("entry_id", "")
        tag = f" [{kind}{': ' + entry if entry else ''}]" if kind else ""
        return f"{at}  бот сказал: «{event.text}»{tag}"
    if event.kind == "clear":
        return f"{at}  бот остановил речь (clear, сброшено {fields.get('dropped_ms', '0')} мс)"
    if event.kind == "transfer":
        context = ", ".join(f"{k}={v}" for k, v in fields.items())
        return f"{at}  перевод на оператора: {event.text} ({context})"
    if event.kind == "hangup":
        return f"{at}  бот завершил звонок: {event.text}"
    if event.kind == "error":
        return f"{at}  ошибка от бота: {fields.get('code', '')}: {event.text}"
    if event.kind == "underrun":
        return f"{at}  провал воспроизведения (underrun) {fields.get('gap_ms', '?')} мс"
    if event.kind == "timeout":
        return f"{at}  время звонка вышло (--max-seconds): кладём трубку"
    if event.kind == "closed":
        return f"{at}  соединение закрыто (код {event.text})"
    return None


def summary_lines(report: CallReport) -> list[str]:
    """Answer latencies and the call's outcome, for the end of the log."""
    lines = ["Задержка ответа (от конца фразы абонента до первого звука бота):"]
    for number, item in enumerate(report.latencies, 1):
        u = item.utterance
        span = f"фраза {number} ({u.start:.2f}–{u.end:.2f} с записи)"
        seconds = item.seconds
        lines.append(
            f"  {span}: {seconds:.3f} с" if seconds is not None else f"  {span}: ответа не было"
        )
    if not report.latencies:
        lines.append("  в записи не найдено речи")
    measured = sorted(report.answer_latencies)
    if measured:
        lines.append(
            f"  среднее {sum(measured) / len(measured):.3f} с, максимум {measured[-1]:.3f} с"
        )
    lines.append(
        f"Итог: {report.ended_by}"
        + (f" ({report.end_reason})" if report.end_reason else "")
        + f", {report.duration:.1f} с, провалов воспроизведения: {report.underruns}"
    )
    return lines


def _fail(message: str, code: int) -> SystemExit:
    click.echo(f"Ошибка: {' '.join(message.split())}", err=True)
    return SystemExit(code)


@click.command("call")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default=DEFAULT_URL, show_default=True, help="WebSocket бота (мост).")
@click.option(
    "--token",
    envvar="VOICEBOT_BRIDGE_TOKEN",
    default="",
    help="Общий секрет моста (по умолчанию VOICEBOT_BRIDGE_TOKEN).",
)
@click.option(
    "--codec",
    type=click.Choice(["alaw", "ulaw", "pcm16"]),
    default="alaw",
    show_default=True,
    help="Кодек линии (G.711 идёт на 8 кГц).",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Куда сохранить звук бота (по умолчанию bot-<call_id>.wav).",
)
@click.option("--caller", default="+79990000000", show_default=True, help="Номер абонента.")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Положить трубку через столько секунд, если бот не закончит сам.",
)
def call_command(
    file: Path, url: str, token: str, codec: str, save: Path | None, caller: str, max_seconds: float
) -> None:
    """Call the bot like a PBX: play FILE.wav as the caller, log the call and answer latencies."""
    from telephony_bridge.simulator import CallRefusedError, simulate_call

    try:
        pcm, rate = read_wav(file)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None

    def show(event: CallEvent) -> None:
        line = describe(event)
        if line is not None:
            click.echo(line)

    try:
        report = asyncio.run(
            simulate_call(
                url,
                token,
                pcm,
                rate,
                codec=codec,
                caller=caller,
                max_seconds=max_seconds,
                on_event=show,
            )
        )
    except CallRefusedError as exc:
        raise _fail(str(exc), 2) from None
    for line in summary_lines(report):
        click.echo(line)
    target = save or Path(f"bot-{report.call_id}.wav")
    write_wav(target, report.bot_audio, report.sample_rate)
    seconds = len(report.bot_audio) / 2 / report.sample_rate
    click.echo(f"Звук бота: {target} ({seconds:.1f} с, {report.sample_rate} Гц)")
    if report.ended_by == "error":
        raise SystemExit(1)
