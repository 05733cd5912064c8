"""The running server's state: its models (one worker each), its library, config and metrics,
and the one way a handler hands work to a model and waits for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import Request

from latentspace.serve.config import ServeConfig
from latentspace.serve.errors import ApiError
from latentspace.serve.library import Library
from latentspace.serve.metrics import Metrics
from latentspace.serve.worker import Cancelled, Job, TimedOut, Worker

POLL = 0.25  # seconds between checks that a waiting client is still there


class Server:
    def __init__(self, models: list, config: ServeConfig) -> None:
        if not models:
            raise ValueError("a server needs at least one model")
        self.config, self.metrics, self.library = config, Metrics(), Library(config.data_dir)
        self.models = {lm.name: lm for lm in models}
        self.workers = {lm.name: Worker(lm, config.queue_size, config.max_batch, self.metrics) for lm in models}
        self.started = time.time()

    @property
    def default_model(self) -> str:
        return next(iter(self.models))

    def model(self, name: str | None):
        name = name or self.default_model
        if name not in self.models:
            raise ApiError(404, f"model {name!r} is not served here; served: {', '.join(self.models)}",
                           "model_not_found")
        return self.models[name]

    def submit(self, model: str | None, run, payload=None, batch_key=None) -> Job:
        """Queue ``run(lm, jobs)`` on the model's worker (429 when its queue is full)."""
        lm = self.model(model)
        job = Job(run, payload, time.monotonic() + self.config.request_timeout, batch_key)
        self.workers[lm.name].submit(job)
        return job

    async def call(self, model: str | None, fn, request: Request | None = None):
        """Run ``fn(lm)`` on the model's worker and return its result."""
        job = self.submit(model, lambda lm, jobs: jobs[0].finish(fn(lm)))
        return await self.result(job, request)

    async def result(self, job: Job, request: Request | None = None):
        """Wait for the job's result, dropping its events; stop it if the client goes."""
        async for kind, data in self.events(job, request):
            if kind == "done":
                return data

    async def events(self, job: Job, request: Request | None = None) -> AsyncIterator[tuple[str, object]]:
        """The job's events up to and including ``done``; errors are raised as `ApiError`s."""
        try:
            while True:
                left = job.deadline - time.monotonic() + 1.0  # the worker stops it first, if it can
                if left <= 0:
                    raise TimedOut()
                try:
                    kind, data = await asyncio.wait_for(job.events.get(), timeout=min(POLL, left))
                except TimeoutError:
                    if request is not None and await request.is_disconnected():
                        raise Cancelled() from None
                    continue
                if kind == "error":
                    raise data
                yield kind, data
                if kind == "done":
                    return
        except TimedOut:
            raise ApiError(504, f"the request ran past the server's timeout of {self.config.request_timeout:g} s",
                           "timeout") from None
        except Cancelled:
            raise ApiError(499, "the client closed the request", "cancelled") from None
        finally:
            job.cancelled.set()  # nobody reads further: a job still queued or running stops

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()
