"""The running server's state: its models (one worker each), its library, config and metrics,
and the one way a handler hands work to a model and waits for it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Request

from latentspace.serve.config import ServeConfig
from latentspace.serve.errors import ApiError
from latentspace.serve.library import Library, unserved
from latentspace.serve.metrics import Metrics
from latentspace.serve.worker import Cancelled, Job, TimedOut, Worker

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

POLL = 0.25  # seconds between checks that a waiting client is still there


class Server:
    def __init__(self, models: list, config: ServeConfig) -> None:
        if not models:
            raise ValueError("a server needs at least one model")
        self.models = {lm.name: lm for lm in models}
        self.config, self.metrics, self.library = config, Metrics(), Library(config.data_dir, tuple(self.models))
        self._holding = asyncio.Lock()  # one request at a time holds other models' workers (see `holding`)
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

    def pipeline_models(self, pipeline, model: str | None) -> tuple[str, dict]:
        """(the model a pipeline request runs on, name -> served model for each model its agents name).

        The pipeline runs on served models only (never one loaded for it), and on the request's
        model when its agents name models (left out: the first they name)."""
        problem = unserved(pipeline, self.models)
        if problem:
            raise ApiError(400, f"pipeline {pipeline.name!r} is broken: {problem}", "pipeline_broken")
        named = [name for name in dict.fromkeys(pipeline.models) if name is not None]
        model = model or (named[0] if named else self.default_model)
        if named and model not in named:
            raise ApiError(400, f"pipeline {pipeline.name!r} runs on {', '.join(named)}, not {model}: ask with "
                           "one of those as the model", "pipeline_model")
        return self.model(model).name, {name: self.models[name] for name in named}

    @asynccontextmanager
    async def holding(self, names: Iterable[str], request: Request | None = None):
        """Each named model's worker runs nothing else until the block ends: a pipeline whose agents
        run on several served models computes on each inside that model's own queue. One request
        holds at a time, so two never wait on each other's workers (a deadlock)."""
        names = sorted(set(names))
        if not names:
            yield
            return
        try:
            await asyncio.wait_for(self._holding.acquire(), timeout=self.config.request_timeout)
        except TimeoutError:
            raise ApiError(504, f"the request ran past the server's timeout of {self.config.request_timeout:g} s",
                           "timeout") from None
        releases = []
        longest = (len(names) + 2) * self.config.request_timeout  # each hold's wait, then the run itself
        try:
            for name in names:
                releases.append(threading.Event())
                await self.result(self.submit(name, _hold(releases[-1], longest)), request)  # held from now
            yield
        finally:
            for release in releases:
                release.set()
            self._holding.release()

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


def _hold(release: threading.Event, longest: float):
    """A job that keeps its worker until ``release`` is set: the request's own deadline may pass while
    the run it holds for still goes on; ``longest`` seconds only guard against a handler that vanished."""

    def run(lm: LatentModel, jobs) -> None:
        jobs[0].finish(None)
        release.wait(longest)

    return run
