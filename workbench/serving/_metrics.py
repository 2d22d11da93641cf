"""``GET /metrics``: request counters and a latency histogram in Prometheus' text format."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.serving._shadow import Shadow

__all__ = ["LATENCY_BUCKETS", "OTHER_PATH", "Metrics"]

#: Upper bounds (seconds) of the latency histogram buckets on ``/metrics``.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: The ``path`` label of every request to a path the server does not have: one series,
#: however many different paths are tried.
OTHER_PATH = "(other)"


def _label(value: object) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counters and a latency histogram, rendered in Prometheus' text format.

    Args:
        paths: The server's paths; a request to any other is counted under
            :data:`OTHER_PATH`, so that a client cannot add series (or, with a path that
            holds quotes and newlines, lines) to ``/metrics``.
    """

    def __init__(self, paths: frozenset[str] = frozenset()) -> None:
        self.paths = paths
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.rows = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, seconds: float, rows: int = 0) -> None:
        if path not in self.paths:
            path = OTHER_PATH
        with self._lock:
            self.requests[(path, status)] = self.requests.get((path, status), 0) + 1
            self.rows += rows
            if path == "/invocations":
                self.latency_count += 1
                self.latency_sum += seconds
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if seconds <= bound:
                        self.buckets[i] += 1

    def render(self, name: str, version: str, shadow: Shadow | None = None) -> str:
        """The text of ``/metrics``; with a ``shadow``, its requests by outcome
        (``mirrored``, ``skipped`` while it was too far behind, ``failed``)."""
        labels = f'model="{_label(name)}",version="{_label(version)}"'
        lines = [
            "# HELP workbench_requests_total Requests answered, by path and status code.",
            "# TYPE workbench_requests_total counter",
        ]
        with self._lock:
            for (path, status), count in sorted(self.requests.items()):
                lines.append(
                    f'workbench_requests_total{{{labels},path="{_label(path)}",'
                    f'status="{status}"}} {count}'
                )
            errors = sum(c for (_, status), c in self.requests.items() if status >= 400)
            lines += [
                "# HELP workbench_request_errors_total Requests answered with a 4xx or 5xx.",
                "# TYPE workbench_request_errors_total counter",
                f"workbench_request_errors_total{{{labels}}} {errors}",
                "# HELP workbench_predicted_rows_total Rows predicted (and logged).",
                "# TYPE workbench_predicted_rows_total counter",
                f"workbench_predicted_rows_total{{{labels}}} {self.rows}",
                "# HELP workbench_request_latency_seconds Latency of /invocations.",
                "# TYPE workbench_request_latency_seconds histogram",
            ]
            for bound, count in zip(LATENCY_BUCKETS, self.buckets, strict=True):
                lines.append(
                    f'workbench_request_latency_seconds_bucket{{{labels},le="{bound}"}} {count}'
                )
            lines += [
                f'workbench_request_latency_seconds_bucket{{{labels},le="+Inf"}} '
                f"{self.latency_count}",
                f"workbench_request_latency_seconds_sum{{{labels}}} {self.latency_sum:.6f}",
                f"workbench_request_latency_seconds_count{{{labels}}} {self.latency_count}",
            ]
        if shadow is not None:
            lines += [
                "# HELP workbench_shadow_requests_total Answered requests sent to the shadow "
                "challenger, by outcome (skipped: it was too far behind).",
                "# TYPE workbench_shadow_requests_total counter",
            ]
            for outcome, count in (
                ("mirrored", shadow.mirrored),
                ("skipped", shadow.skipped),
                ("failed", shadow.failures),
            ):
                lines.append(
                    f'workbench_shadow_requests_total{{model="{_label(name)}",'
                    f'outcome="{outcome}"}} {count}'
                )
        return "\n".join(lines) + "\n"
