"""Prometheus metrics of one model server, written as the text exposition format.

Everything lives in a ``Metrics`` object that the app factory creates (no module-level registry, so
two apps in one process, or two tests, never share counts). Recording is a dictionary update on the
event loop's thread; ``render`` writes the text for ``GET /metrics``.

Besides the server's own series (requests by protocol/endpoint/code, latency, in-flight requests,
rows per predict call, predict time, model load time, readiness), a custom model's Seldon-style
``metrics()`` are exported under the model's own keys: COUNTER adds to a counter, GAUGE sets a
gauge, TIMER (milliseconds, as Seldon defines it) is observed into a histogram. Their ``tags``
become labels.
"""

from __future__ import annotations

import logging
import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger("modelyard.serving")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
TIMER_MS_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_RESERVED_PREFIX = "modelyard_"

Labels = tuple[str, ...]


class _Series:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = tuple(labels)

    def _label_text(self, values: Labels, extra: str = "") -> str:
        pairs = [f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values, strict=True)]
        if extra:
            pairs.append(extra)
        return "{" + ",".join(pairs) + "}" if pairs else ""

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Series):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels = (), amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def get(self, labels: Labels = ()) -> float:
        return self.values.get(labels, 0.0)

    def lines(self) -> list[str]:
        return [f"{self.name}{self._label_text(k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, labels: Labels = ()) -> None:
        self.values[labels] = value


class Histogram(_Series):
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, labels: Sequence[str] = (), *, buckets: Sequence[float]
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(buckets)
        # per label set: [count in each bucket (non-cumulative) ..., +Inf bucket, sum]
        self.values: dict[Labels, list[float]] = {}

    def observe(self, value: float, labels: Labels = ()) -> None:
        cells = self.values.get(labels)
        if cells is None:
            cells = self.values[labels] = [0.0] * (len(self.buckets) + 2)
        cells[bisect_left(self.buckets, value)] += 1
        cells[-1] += value

    def count(self, labels: Labels = ()) -> int:
        cells = self.values.get(labels)
        return int(sum(cells[:-1])) if cells else 0

    def lines(self) -> list[str]:
        out: list[str] = []
        for labels, cells in sorted(self.values.items()):
            running = 0.0
            for bound, n in zip((*self.buckets, math.inf), cells[:-1], strict=True):
                running += n
                le = "+Inf" if bound == math.inf else _number(bound)
                bucket = self._label_text(labels, 'le="' + le + '"')
                out.append(f"{self.name}_bucket{bucket} {_number(running)}")
            out.append(f"{self.name}_sum{self._label_text(labels)} {_number(cells[-1])}")
            out.append(f"{self.name}_count{self._label_text(labels)} {_number(running)}")
        return out


class Metrics:
    """The series of one server. ``observe_request`` is on every request's path: keep it cheap."""

    def __init__(self) -> None:
        self.requests = Counter(
            "modelyard_serving_requests_total", "Requests answered.", ("protocol", "endpoint", "code")
        )
        self.latency = Histogram(
            "modelyard_serving_request_duration_seconds",
            "Time from the request's arrival to its response.",
            ("protocol", "endpoint"),
            buckets=LATENCY_BUCKETS,
        )
        self.in_flight = Gauge("modelyard_serving_requests_in_flight", "Requests being answered now.")
        self.batch_rows = Histogram(
            "modelyard_serving_batch_rows",
            "Rows in each predict call (merged when batching).",
            buckets=ROW_BUCKETS,
        )
        self.batch_requests = Histogram(
            "modelyard_serving_batch_requests", "Requests merged into each predict call.", buckets=ROW_BUCKETS
        )
        self.predict_seconds = Histogram(
            "modelyard_serving_predict_duration_seconds",
            "Time in the model's predict.",
            buckets=LATENCY_BUCKETS,
        )
        self.predict_calls = Counter(
            "modelyard_serving_predict_calls_total",
            "Predict calls, by where they ran: inline on the event loop or on a worker thread.",
            ("where",),
        )
        self.load_seconds = Gauge(
            "modelyard_serving_model_load_seconds", "Time to load the model and run its warm-up prediction."
        )
        self.ready = Gauge("modelyard_serving_model_ready", "1 when the model answers predictions.")
        self.info = Gauge(
            "modelyard_serving_model_info", "The model being served.", ("model", "version", "flavor")
        )
        self.feedback = Counter("modelyard_serving_feedback_total", "Seldon feedback messages received.")
        self.reward = Counter("modelyard_serving_feedback_reward_total", "Sum of the rewards in feedback.")
        self._own: list[_Series] = [
            self.requests,
            self.latency,
            self.in_flight,
            self.batch_rows,
            self.batch_requests,
            self.predict_seconds,
            self.predict_calls,
            self.load_seconds,
            self.ready,
            self.info,
            self.feedback,
            self.reward,
        ]
        self._custom: dict[str, _Series] = {}
        self._refused: set[str] = set()

    def observe_request(self, protocol: str, endpoint: str, code: int, seconds: float) -> None:
        key = (protocol, endpoint, _CODES.get(code) or str(code))
        self.requests.values[key] = self.requests.values.get(key, 0.0) + 1.0
        self.latency.observe(seconds, key[:2])

    def observe_predict(self, *, rows: int, requests: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)
        self.predict_seconds.observe(seconds)

    def record_custom(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Apply a custom model's ``metrics()``: ``[{"key", "type", "value", "tags"?}]``."""
        for entry in entries:
            try:
                self._record_one(entry)
            except (TypeError, ValueError, KeyError) as exc:
                self._refuse(str(entry.get("key")), f"malformed metric {entry!r}: {exc}")

    def _record_one(self, entry: Mapping[str, Any]) -> None:
        key, kind, value = str(entry["key"]), str(entry.get("type", "COUNTER")).upper(), float(entry["value"])
        tags = entry.get("tags") or {}
        if not _NAME.match(key) or key.startswith(_RESERVED_PREFIX):
            self._refuse(key, f"custom metric key {key!r} is not a valid Prometheus name (or is reserved)")
            return
        label_names = tuple(sorted(str(k) for k in tags))
        labels = tuple(str(tags[k]) for k in sorted(tags))
        series = self._custom.get(key)
        if series is None:
            factory = {"COUNTER": Counter, "GAUGE": Gauge}.get(kind)
            if factory is not None:
                series = factory(key, f"Custom {kind.lower()} reported by the model.", label_names)
            elif kind == "TIMER":
                series = Histogram(
                    key, "Custom timer reported by the model (ms).", label_names, buckets=TIMER_MS_BUCKETS
                )
            else:
                self._refuse(
                    key, f"custom metric {key!r} has type {kind!r}; expected COUNTER, GAUGE or TIMER"
                )
                return
            self._custom[key] = series
        if series.labels != label_names or series.kind != _KINDS[kind]:
            self._refuse(key, f"custom metric {key!r} changed its type or tags; keeping the first ones")
        elif isinstance(series, Gauge):
            series.set(value, labels)
        elif isinstance(series, Counter):
            series.inc(labels, value)
        elif isinstance(series, Histogram):
            series.observe(value, labels)

    def _refuse(self, key: str, message: str) -> None:
        if key not in self._refused:  # say it once, not on every request
            self._refused.add(key)
            log.warning(message)

    def render(self) -> bytes:
        lines: list[str] = []
        for series in (*self._own, *self._custom.values()):
            lines += series.header()
            lines += series.lines()
        return ("\n".join(lines) + "\n").encode()


_KINDS = {"COUNTER": "counter", "GAUGE": "gauge", "TIMER": "histogram"}
_CODES = {code: str(code) for code in range(100, 600)}  # no str() per request


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
