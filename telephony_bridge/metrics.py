"""Prometheus metrics of one bridge process (a registry per app: no module-level state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from voicebot.queue import Callback, QueueEntry

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0)


@runtime_checkable
class QueueView(Protocol):
    """What the queue gauges read (voicebot.store.queue.QueueStore has it)."""

    def waiting(self, topics: Sequence[str] | None = None) -> list[QueueEntry]:
        """Entries waiting, in serving order."""
        ...

    def callbacks(self, states: Sequence[str] = ("open", "taken")) -> list[Callback]:
        """Callbacks in these states."""
        ...


class QueueCollector(Collector):
    """Queue length per topic, the longest wait, open and overdue callbacks: read from the
    shared database at scrape time, so every bridge process reports the same queue."""

    def __init__(self, queue: Callable[[], QueueView | None]) -> None:
        """`queue()` gives the queue once the engines are loaded (None before)."""
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        """The gauges (nothing while there is no queue)."""
        queue = self.queue()
        if queue is None:
            return
        now = datetime.now(UTC)
        waiting = GaugeMetricFamily(
            "voicebot_queue_waiting", "Calls waiting for an operator", labels=["topic"]
        )
        oldest = GaugeMetricFamily(
            "voicebot_queue_oldest_wait_seconds", "The longest current wait", labels=["topic"]
        )
        by_topic: dict[str, list[QueueEntry]] = {}
        for entry in queue.waiting():
            by_topic.setdefault(entry.topic, []).append(entry)
        for topic, entries in sorted(by_topic.items()):
            waiting.add_metric([topic], len(entries))
            first = min(e.enqueued_at for e in entries)
            oldest.add_metric([topic], (now - first).total_seconds())
        callbacks = queue.callbacks()
        open_callbacks = GaugeMetricFamily("voicebot_callbacks_open", "Callbacks to make")
        open_callbacks.add_metric([], len(callbacks))
        overdue = GaugeMetricFamily("voicebot_callbacks_overdue", "Callbacks past their deadline")
        overdue.add_metric([], sum(1 for c in callbacks if c.overdue(now)))
        yield from (waiting, oldest, open_callbacks, overdue)


class BridgeMetrics:
    """Calls, outcomes, answer latency parts, barge-ins and errors."""

    def __init__(self) -> None:
        """Fresh metrics in their own registry."""
        self.registry = CollectorRegistry()
        self.calls_active = Gauge(
            "voicebot_calls_active", "Calls in progress", registry=self.registry
        )
        self.calls = Counter(
            "voicebot_calls", "Finished calls by outcome", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "voicebot_answer_latency_seconds",
            "Parts of the bot's answer latency",
            ["part"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.barge_ins = Counter(
            "voicebot_barge_ins", "Times callers interrupted the bot", registry=self.registry
        )
        self.engine_errors = Counter(
            "voicebot_engine_errors", "Engine failures during calls", registry=self.registry
        )
        self.queue_wait = Histogram(
            "voicebot_queue_wait_seconds",
            "How long callers waited in the operator queue, by how the wait ended",
            ["result"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.protocol_errors = Counter(
            "voicebot_protocol_errors",
            "Connections closed for protocol violations",
            ["code"],
            registry=self.registry,
        )

    def observe(self, name: str, values: dict[str, float]) -> None:
        """The call session's observer callback."""
        if name == "answer":
            for part, seconds in values.items():
                self.latency.labels(part).observe(seconds)
        elif name == "barge_in":
            self.barge_ins.inc()
        elif name == "engine_error":
            self.engine_errors.inc()
        elif name.startswith("queue_wait_"):  # queue_wait_taken, _callback, _abandoned
            self.queue_wait.labels(name.removeprefix("queue_wait_")).observe(values["seconds"])
