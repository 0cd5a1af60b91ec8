"""The gateway's Prometheus series: requests, latency, retries and requests in flight.

One ``GatewayMetrics`` per app (no module-level registry), in the text format of the serving
runtime's series. Deployment names become labels only once the deployment is known, so requests for
made-up names cannot grow the series without bound.
"""

from __future__ import annotations

from modelyard.serving.metrics import LATENCY_BUCKETS, Counter, Gauge, Histogram

_CODES = {code: str(code) for code in range(100, 600)}


class GatewayMetrics:
    def __init__(self) -> None:
        self.requests = Counter(
            "modelyard_gateway_requests_total",
            "Requests to /deployment/<name>/ answered by the gateway.",
            ("deployment", "predictor", "code"),
        )
        self.latency = Histogram(
            "modelyard_gateway_request_duration_seconds",
            "Time from a request's arrival at the gateway to its response, replica included.",
            ("deployment", "predictor"),
            buckets=LATENCY_BUCKETS,
        )
        self.retries = Counter(
            "modelyard_gateway_retries_total",
            "Requests re-sent to another replica because one refused or dropped the connection.",
            ("deployment",),
        )
        self.in_flight = Gauge("modelyard_gateway_requests_in_flight", "Requests being forwarded now.")
        self._series = (self.requests, self.latency, self.retries, self.in_flight)

    def observe(self, deployment: str, predictor: str, code: int, seconds: float) -> None:
        self.requests.inc((deployment, predictor, _CODES.get(code) or str(code)))
        self.latency.observe(seconds, (deployment, predictor))

    def render(self) -> bytes:
        lines: list[str] = []
        for series in self._series:
            lines += series.header()
            lines += series.lines()
        return ("\n".join(lines) + "\n").encode()
