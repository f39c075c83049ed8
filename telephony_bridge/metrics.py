"""Prometheus metrics of one bridge process (a registry per app: no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)


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
