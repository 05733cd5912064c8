"""OpenAI-compatible routes: /v1/models, /v1/chat/completions, /v1/completions (stream or not).

Standard clients see OpenAI's shapes. A response also carries ``latent`` (ignored by them): the
strategy's totals and, with ``latent.trace``, the whole `Trace`; a stream interleaves trace steps
as chunks with empty ``choices`` and a ``latent`` event, the shape of OpenAI's usage chunk.
"""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from latentspace.core.errors import LatentspaceError
from latentspace.serve.errors import ApiError, error_body
from latentspace.serve.generation import Work, finish_reason, run_works
from latentspace.serve.jsonio import StrictJSON, sse
from latentspace.serve.prompts import build_work
from latentspace.serve.schemas import ChatRequest, CompletionRequest

router = APIRouter(default_response_class=StrictJSON)  # strict JSON out (see jsonio)
logger = logging.getLogger("latentspace.serve")


@router.get("/v1/models", tags=["openai"])
async def list_models(request: Request) -> dict:
    server = request.app.state.server
    return {"object": "list", "data": [
        {"id": name, "object": "model", "created": int(server.started), "owned_by": "latentspace",
         "layers": lm.n_layers, "hidden_size": lm.hidden_size} for name, lm in server.models.items()]}


@router.post("/v1/chat/completions", tags=["openai"])
async def chat_completions(body: ChatRequest, request: Request):
    return await _complete(request, body, "chat.completion", build_work(request.app.state.server, body, chat=True))


@router.post("/v1/completions", tags=["openai"])
async def completions(body: CompletionRequest, request: Request):
    return await _complete(request, body, "text_completion", build_work(request.app.state.server, body, chat=False))


async def _complete(request: Request, body, kind: str, work: Work):
    server = request.app.state.server
    lm = server.model(body.model)
    if work.holds:  # other models' workers are held: run to the end now, so they are released before any stream
        async with server.holding(work.holds, request):
            job = server.submit(lm.name, run_works(server.library, server.metrics), work)
            recorded = [event async for event in server.events(job, request)]
    else:
        job = server.submit(lm.name, run_works(server.library, server.metrics), work, work.batch_key())
    ident = f"{'chatcmpl' if kind == 'chat.completion' else 'cmpl'}-{uuid.uuid4().hex[:24]}"
    head = {"id": ident, "created": int(time.time()), "model": lm.name}
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _replay(recorded) if work.holds else server.events(job, request)
        # the first event is awaited before the response starts: what fails before any token (a text
        # over the model's context, an object that will not load) keeps its own 4xx status
        first = await anext(events)
        return StreamingResponse(_stream(job, _then(first, events), head, kind, work, usage),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    outcome = recorded[-1][1] if work.holds else await server.result(job, request)
    trace = outcome.trace
    choice = ({"index": 0, "message": {"role": "assistant", "content": trace.text}} if kind == "chat.completion"
              else {"index": 0, "text": trace.text})
    choice.update(finish_reason=finish_reason(trace), logprobs=None)
    return {**head, "object": kind, "choices": [choice], "usage": _usage(outcome), "latent": _latent(outcome, work)}


async def _replay(events: list):
    for event in events:
        yield event


async def _then(first, rest):
    yield first
    async for event in rest:
        yield event


async def _stream(job, events, head: dict, kind: str, work: Work, include_usage: bool):
    chunk_kind = "chat.completion.chunk" if kind == "chat.completion" else "text_completion"

    def chunk(delta: str | None = None, finish: str | None = None, role: bool = False, **extra) -> str:
        if delta is None and finish is None and not role:
            choices = []
        elif kind == "chat.completion":
            message = {"role": "assistant", "content": delta or ""} if role else {"content": delta or ""}
            choices = [{"index": 0, "delta": message if finish is None else {}, "finish_reason": finish,
                        "logprobs": None}]
        else:
            choices = [{"index": 0, "text": delta or "", "finish_reason": finish, "logprobs": None}]
        return sse({**head, "object": chunk_kind, "choices": choices, **extra})

    sent, steps = "", 0
    try:
        if kind == "chat.completion":
            yield chunk(role=True)
        async for event, data in events:
            if event == "text":
                sent += data
                yield chunk(data)
            elif event == "step":
                yield chunk(latent={"event": "step", "index": steps, "step": _step(data)})
                steps += 1
            elif event == "done":
                trace = data.trace
                if work.trace:  # strategies that record their steps only at the end (agents) send them now
                    for step in trace.steps[steps:]:
                        yield chunk(latent={"event": "step", "index": steps, "step": _step(step)})
                        steps += 1
                if len(trace.text) > len(sent) and trace.text.startswith(sent):
                    yield chunk(trace.text[len(sent):])
                # the latent summary rides on the finish chunk: no extra chunk without choices
                yield chunk(finish=finish_reason(trace), latent={"event": "done", **_latent(data, work)})
                if include_usage:
                    yield chunk(usage=_usage(data))
        yield "data: [DONE]\n\n"
    except (ApiError, LatentspaceError) as err:  # the stream has started: the error becomes its last event
        status, message = (err.status, err.message) if isinstance(err, ApiError) else (400, str(err))
        yield sse(error_body(status, message))
    except Exception:  # noqa: BLE001 - a bug: logged with its traceback, and the client still hears of it
        logger.exception("stream failed")
        yield sse(error_body(500, "internal error while streaming (logged on the server)"))
    finally:
        job.cancelled.set()  # the client left (or we are done): free the worker


def _step(step) -> dict:
    from dataclasses import asdict

    return step if isinstance(step, dict) else asdict(step)  # live steps come as copies already


def _usage(outcome) -> dict:
    completion = outcome.trace.explicit_tokens
    return {"prompt_tokens": outcome.prompt_tokens, "completion_tokens": completion,
            "total_tokens": outcome.prompt_tokens + completion, "latent_steps": outcome.trace.latent_steps}


def _latent(outcome, work: Work) -> dict:
    trace = outcome.trace
    out = {"strategy": trace.strategy, "latent_steps": trace.latent_steps, "positions": trace.positions,
           "stop_reason": trace.stop_reason, "seconds": round(trace.wall_seconds, 4)}
    if outcome.memories:
        out["memories"] = outcome.memories
    if work.trace:
        out["trace"] = trace.to_dict()
    return out
