"""Prometheus metrics in the text exposition format (no client library needed for a handful).

Counters only grow; rates (tokens/s, requests/s) are what Prometheus' ``rate()`` is for. Latency is
a histogram so p50/p99 can be read with ``histogram_quantile``.
"""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)  # (route, status) -> count
        self.latency_counts: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.tokens = 0  # completion tokens generated
        self.prompt_tokens = 0
        self.latent_steps = 0
        self.batches = 0
        self.batched_jobs = 0
        self.busy_seconds = 0.0

    def request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[route, status] += 1
            slot = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            self.latency_counts[route][slot] += 1
            self.latency_sum[route] += seconds

    def generated(self, completion: int, prompt: int, latent: int) -> None:
        with self._lock:
            self.tokens += completion
            self.prompt_tokens += prompt
            self.latent_steps += latent

    def batch(self, size: int, seconds: float) -> None:
        with self._lock:
            self.batches += 1
            self.batched_jobs += size
            self.busy_seconds += seconds

    def render(self, workers: dict) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}"])
            lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

        with self._lock:
            metric("latentspace_requests_total", "counter", "HTTP requests by route and status.",
                   [(f'{{route="{r}",status="{s}"}}', n) for (r, s), n in sorted(self.requests.items())])
            samples = []
            for route, counts in sorted(self.latency_counts.items()):
                total = 0
                for bound, n in zip([*BUCKETS, "+Inf"], counts):
                    total += n
                    samples.append((f'_bucket{{route="{route}",le="{bound}"}}', total))
                samples += [(f'_sum{{route="{route}"}}', self.latency_sum[route]),
                            (f'_count{{route="{route}"}}', total)]
            lines += ["# HELP latentspace_request_seconds Request latency, arrival to last byte.",
                      "# TYPE latentspace_request_seconds histogram"]
            lines += [f"latentspace_request_seconds{suffix} {value:g}" for suffix, value in samples]
            metric("latentspace_completion_tokens_total", "counter", "Tokens generated.", [("", self.tokens)])
            metric("latentspace_prompt_tokens_total", "counter", "Prompt tokens read.", [("", self.prompt_tokens)])
            metric("latentspace_latent_steps_total", "counter", "Latent steps taken.", [("", self.latent_steps)])
            metric("latentspace_batches_total", "counter", "Forward batches run by the workers.", [("", self.batches)])
            metric("latentspace_batched_jobs_total", "counter", "Requests run inside those batches.",
                   [("", self.batched_jobs)])
            metric("latentspace_worker_busy_seconds_total", "counter", "Seconds the workers spent computing.",
                   [("", self.busy_seconds)])
        metric("latentspace_queue_depth", "gauge", "Requests waiting per model.",
               [(f'{{model="{name}"}}', w.depth) for name, w in workers.items()])
        metric("latentspace_worker_busy", "gauge", "1 while the model's worker computes.",
               [(f'{{model="{name}"}}', int(w.busy)) for name, w in workers.items()])
        return "\n".join(lines) + "\n"
