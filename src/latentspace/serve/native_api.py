"""latentspace's own routes: lens, steering vectors, memories, agents. Objects go by id."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from latentspace.core.errors import LatentspaceError
from latentspace.serve.errors import ApiError
from latentspace.serve.jsonio import StrictJSON
from latentspace.serve.schemas import (AgentsRun, AuditOne, LensRequest, MemoryAdd, MemorySearch, SearchOne,
                                        VectorCreate)

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

router = APIRouter(default_response_class=StrictJSON)  # strict JSON out (see jsonio)
LENS_TOKENS = 1024  # a lens reads every layer at every position: keep one request's memory bounded


def _server(request: Request):
    return request.app.state.server


@router.post("/v1/lens", tags=["lens"])
async def lens(body: LensRequest, request: Request) -> dict:
    """The logit lens of a text: top-k tokens, entropy and KL to the final layer, layers × positions."""
    from latentspace.lens.logit_lens import logit_lens

    def read(lm: LatentModel):
        layers = body.layers
        if layers is not None:
            bad = [n for n in layers if not -lm.n_layers <= n < lm.n_layers]
            if bad:
                raise LatentspaceError(f"layer {bad[0]} out of range: the model has {lm.n_layers} layers")
            layers = [n % lm.n_layers for n in layers]
        n = len(lm.tokenizer(lm.chat(body.text) if body.chat else body.text)["input_ids"])
        if n > LENS_TOKENS:
            raise LatentspaceError(f"the lens reads at most {LENS_TOKENS} tokens here; this text has {n}")
        reading = logit_lens(lm, body.text, layers=layers, k=body.k, target=body.target, chat=body.chat)[0]
        return {"model": lm.name, "n_layers": lm.n_layers, **reading.to_dict(lm.tokenizer)}

    return await _server(request).call(body.model, read, request)


@router.get("/v1/vectors", tags=["steer"])
async def list_vectors(request: Request) -> dict:
    return {"object": "list", "data": _server(request).library.vectors()}


@router.get("/v1/concepts", tags=["steer"])
async def list_concepts(request: Request) -> dict:
    from latentspace.steer.pairs import concepts, expand_spec

    return {"object": "list", "data": [{"id": name, "pairs": len(expand_spec(spec, name)),
                                        "description": spec.get("description", "")}
                                       for name, spec in concepts().items()]}


@router.post("/v1/vectors", tags=["steer"], status_code=201)
async def create_vector(body: VectorCreate, request: Request) -> dict:
    """Train a steering vector from a built-in concept or from pairs given in the request."""
    from latentspace.steer import train_vector
    from latentspace.steer.pairs import check_count, concept_pairs, concepts, pair_from_row

    server = _server(request)
    path = server.library.vector_file(body.id)
    if (body.concept is None) == (body.pairs is None):
        raise LatentspaceError("give either concept (a built-in set) or pairs")
    if body.concept is not None and body.concept not in concepts():
        raise ApiError(404, f"no concept {body.concept!r}; built in: {', '.join(concepts())}", "concept_not_found")
    pairs = (concept_pairs(body.concept) if body.concept else
             check_count([pair_from_row(row, f"pairs[{i}]") for i, row in enumerate(body.pairs)], "pairs"))

    def train(lm: LatentModel):
        vector = train_vector(lm, pairs, method=body.method, layers=body.layers, concept=body.concept)
        vector.save(path)
        return {"id": body.id, "object": "steering_vector", "layers": vector.layers, "method": body.method,
                "concept": body.concept, "norms": {str(k): round(v, 4) for k, v in vector.norms().items()}}

    return await server.call(body.model, train, request)


@router.delete("/v1/vectors/{vector_id}", tags=["steer"])
async def delete_vector(vector_id: str, request: Request) -> dict:
    _server(request).library.delete_vector(vector_id)
    return {"id": vector_id, "object": "steering_vector", "deleted": True}


@router.get("/v1/memories", tags=["memory"])
async def list_memories(request: Request) -> dict:
    return {"object": "list", "data": _server(request).library.memories()}


@router.post("/v1/memories", tags=["memory"], status_code=201)
async def add_memory(body: MemoryAdd, request: Request) -> dict:
    """Read a document once and keep its KV cache (optionally compressed) as a memory."""
    from latentspace.serve.prompts import _press

    press = _press(body.press)
    store = _server(request).library.memory

    def add(lm: LatentModel):
        return store.add(lm, body.text, title=body.title, tags=body.tags, press=press).as_dict()

    return await _server(request).call(body.model, add, request)


@router.post("/v1/memories/search", tags=["memory"])
async def search_memories(body: MemorySearch, request: Request) -> dict:
    store = _server(request).library.memory

    def search(lm: LatentModel):
        return [{**info.as_dict(), "score": round(score, 4)} for info, score in store.search(lm, body.query, body.k)]

    return {"object": "list", "data": await _server(request).call(body.model, search, request)}


@router.delete("/v1/memories/{memory_id}", tags=["memory"])
async def delete_memory(memory_id: str, request: Request) -> dict:
    library = _server(request).library
    info = library.memory_info(memory_id)
    if info.id != memory_id:  # the CLI takes unique prefixes; an API deletes only what it names exactly
        raise ApiError(404, f"no memory {memory_id!r} (ids are exact here)", "memory_not_found")
    await asyncio.to_thread(library.memory.remove, info.id)  # file lock and SQLite: off the event loop
    return {"id": info.id, "object": "memory", "deleted": True}


@router.get("/v1/pipelines", tags=["agents"])
async def list_pipelines(request: Request) -> dict:
    """Built-in pipelines and the files in pipelines/, each with ``usable`` (and its ``problem``)."""
    return {"object": "list", "data": _server(request).library.pipelines()}


@router.post("/v1/agents/run", tags=["agents"])
async def run_agents(body: AgentsRun, request: Request) -> dict:
    """Run a pipeline on one question: every agent's turn (what it read, thought and wrote)."""
    from latentspace.agents.pipelines import load_pipeline, run

    server = _server(request)
    pipeline = load_pipeline(server.library.pipeline(body.pipeline))
    model, models = server.pipeline_models(pipeline, body.model)  # served models only, never loaded

    def go(lm: LatentModel):
        result = run(lm, pipeline, [body.question], body.mode, body.max_tokens, body.agent_tokens, seed=body.seed,
                     models=models or None)
        return {"model": lm.name, "pipeline": pipeline.name, "kind": pipeline.kind, "mode": result.mode,
                "answer": result.texts[0], "turns": [_turn(lm, turn) for turn in result.turns],
                "positions": result.positions[0]}

    async with server.holding(set(models) - {model}, request):
        return await server.call(model, go, request)


@router.post("/v1/audit", tags=["audit"])
async def audit_one(body: AuditOne, request: Request) -> dict:
    """One question's thoughts audited: per thought the lens reading, a saved probe's reading (``probe``:
    an id from GET /v1/probes), and the answer when the thought is removed (thinking cut before it) or
    replaced by noise of its norm."""
    from latentspace.audit.one_question import thought_by_thought
    from latentspace.audit.strategy_subject import StrategySubject
    from latentspace.reason import get_reasoner
    from latentspace.tasks import Item

    if body.over_budget():  # its time follows its runs, not any one field: refused before it queues
        raise ApiError(400, body.over_budget(), "audit_too_large")
    reasoner = get_reasoner(body.strategy, max_latent_steps=body.steps, max_new_tokens=body.max_tokens)
    server = _server(request)

    def go(lm: LatentModel):
        reader = server.library.probe(lm, body.probe) if body.probe else None
        subject = StrategySubject(lm, reasoner, None, batch_size=1, seed=body.seed)
        found = thought_by_thought(subject, Item(body.question, body.answer or ""), lm.tokenizer.decode, body.k,
                                   reader=reader, seed=body.seed)
        return {"model": lm.name, "strategy": reasoner.name, **found}

    return await server.call(body.model, go, request)


@router.post("/v1/search", tags=["search"])
async def search_one(body: SearchOne, request: Request) -> dict:
    """One question's thought paths: ``samples`` runs of a latent strategy with every thought sampled
    (``sampler``), each path's thoughts as the lens reads them and its answer, the majority answer marked
    as the selected one, beside the deterministic (greedy) path."""
    from latentspace.model.samplers import parse_sampler
    from latentspace.reason import get_reasoner
    from latentspace.search.selectors import majority
    from latentspace.tasks import normalise

    if body.over_budget():
        raise ApiError(400, body.over_budget(), "search_too_large")
    parse_sampler(body.sampler)  # a bad spec is a 400 before anything queues
    options = {"max_latent_steps": body.steps, "max_new_tokens": body.max_tokens, "lens_k": body.k}
    greedy_reasoner = get_reasoner(body.strategy, **options)
    sampled_reasoner = get_reasoner(body.strategy, thought_sampler=body.sampler, **options)

    def path(trace) -> dict:
        answer = trace.text.strip()
        return {"answer": answer, "thoughts": [[[tok, p] for tok, p in (s.top or [])[:body.k]]
                                               for s in trace.steps if s.kind == "latent"],
                "correct": None if body.answer is None else normalise(answer) == normalise(body.answer)}

    def go(lm: LatentModel):
        greedy = path(greedy_reasoner.run(lm, body.question, seed=body.seed))
        paths = [path(t) for t in sampled_reasoner.run_batch(lm, [body.question] * body.samples, seed=body.seed)]
        votes = {}
        for p in paths:
            votes[normalise(p["answer"])] = votes.get(normalise(p["answer"]), 0) + 1
        chosen = majority([normalise(p["answer"]) for p in paths if p["answer"]])
        first = next((i for i, p in enumerate(paths) if chosen is not None and normalise(p["answer"]) == chosen), None)
        for i, p in enumerate(paths):
            p["votes"], p["selected"] = votes[normalise(p["answer"])], i == first
        return {"model": lm.name, "strategy": greedy_reasoner.name, "sampler": parse_sampler(body.sampler).spec(),
                "greedy": greedy, "paths": paths, "selected": None if first is None else paths[first]["answer"]}

    return await _server(request).call(body.model, go, request)


@router.get("/v1/probes", tags=["audit"])
async def list_probes(request: Request) -> dict:
    """The probes in the data directory (read at every thought by POST /v1/audit's ``probe``)."""
    return {"object": "list", "data": _server(request).library.probes()}


def _turn(lm: LatentModel, turn) -> dict:
    """Who passed what to whom: the slots an agent received (by the agent that made them), what it
    read, the thoughts it added and what it wrote."""
    from dataclasses import asdict

    thoughts = [asdict(s) for s in turn.thoughts[0]] if turn.thoughts else []
    written = turn.texts[0] if turn.texts else ""
    return {"agent": turn.agent, "received_slots": turn.received_slots, "received_from": turn.received_from or {},
            "prompt_tokens": turn.prompt_tokens[0] if turn.prompt_tokens else 0, "thoughts": thoughts,
            "wrote": written}
