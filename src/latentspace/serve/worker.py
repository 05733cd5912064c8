"""One worker thread per loaded model, fed by a bounded queue.

The model computes one thing at a time, in its own thread, so the event loop never blocks on it.
A request becomes a `Job`: the handler awaits the job's events (text pieces, trace steps, the
result) while the worker runs it. A full queue refuses new jobs (429 with Retry-After); a job
whose client left or whose time ran out is stopped at the next forward step
(`LatentModel.interruptible`) and the worker moves on. Jobs that can share a forward pass (same
settings, greedy) are taken from the queue together and run as one left-padded batch.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TYPE_CHECKING

from latentspace.serve.errors import ApiError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


class Cancelled(Exception):
    """The client went away; nobody is waiting for this job any more."""


class TimedOut(Exception):
    """The job ran past the server's per-request timeout."""


@dataclass(eq=False)
class Job:
    """One request's work; ``run(lm, jobs)`` runs it (with any batch-mates) and reports through ``emit``."""

    run: Callable[[Any, list[Job]], None]
    payload: Any
    deadline: float  # time.monotonic() by which it must have finished
    batch_key: Hashable | None = None  # jobs with equal keys may run as one batch
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.monotonic)

    def emit(self, kind: str, data: Any = None) -> None:
        """From the worker thread: hand an event to the waiting handler."""
        if not self.cancelled.is_set():
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, data))

    def finish(self, result: Any) -> None:
        self.emit("done", result)

    def fail(self, error: BaseException) -> None:
        self.emit("error", error)

    def reason_to_stop(self) -> Exception | None:
        if self.cancelled.is_set():
            return Cancelled()
        if time.monotonic() > self.deadline:
            return TimedOut()
        return None


class Worker:
    def __init__(self, lm: LatentModel, queue_size: int, max_batch: int, metrics=None) -> None:
        self.lm, self.queue_size, self.max_batch, self.metrics = lm, queue_size, max_batch, metrics
        self._jobs: deque[Job] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self.busy = False
        self._recent = deque(maxlen=20)  # seconds per job, for Retry-After
        self._thread = threading.Thread(target=self._serve, name=f"latentspace-worker-{lm.name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        with self._ready:
            if len(self._jobs) >= self.queue_size:
                raise ApiError(429, f"the queue for {self.lm.name} is full ({self.queue_size} waiting); retry later",
                               "queue_full", {"Retry-After": str(self.retry_after())})
            self._jobs.append(job)
            self._ready.notify()

    def retry_after(self) -> int:
        per_job = sum(self._recent) / len(self._recent) if self._recent else 1.0
        return max(1, math.ceil(per_job * (len(self._jobs) + 1)))

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._thread.join(timeout=10)

    def _take(self) -> list[Job] | None:
        with self._ready:
            while not self._jobs and not self._stopping:
                self._ready.wait()
            if self._stopping:
                return None
            first = self._jobs.popleft()
            batch = [first]
            if first.batch_key is not None:
                for job in list(self._jobs):
                    if len(batch) >= self.max_batch:
                        break
                    if job.batch_key == first.batch_key:
                        self._jobs.remove(job)
                        batch.append(job)
            return batch

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            live = []
            for job in batch:
                reason = job.reason_to_stop()
                job.fail(reason) if reason else live.append(job)
            if not live:
                continue
            started = time.monotonic()
            self.busy = True
            try:
                with self.lm.interruptible(lambda: self._stop_if_all_gone(live)):
                    live[0].run(self.lm, live)
            except BaseException as err:  # noqa: BLE001 - every failure goes back to its request
                for job in live:
                    job.fail(job.reason_to_stop() or err)  # a timed-out job hears "timeout", a gone one nothing
            finally:
                self.busy = False
                seconds = time.monotonic() - started
                self._recent.append(seconds / len(live))
                if self.metrics is not None:
                    self.metrics.batch(len(live), seconds)

    def _stop_if_all_gone(self, jobs: list[Job]) -> None:
        """A batch stops only when none of its requests still wants the answer. Only this worker's
        own passes stop: the model's check is not per thread, and a caller using the same model
        from another thread (a test, a tool) while this job winds down must not be cancelled."""
        if threading.current_thread() is not self._thread:
            return
        reasons = [job.reason_to_stop() for job in jobs]
        if all(reasons):
            raise reasons[0]
