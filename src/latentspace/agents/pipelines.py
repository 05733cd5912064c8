"""Pipelines declared as data (YAML/JSON or a dict), the two built-in ones, and one `run` for
every mode — so the latent pipeline and its baselines always get the same agents.

    kind: sequential            # or hierarchical, or graph
    policy: full                # sequential only: full | latent | last
    press: knorm:0.5            # sequential only, optional: compress each hand-over (knorm, keydiff, streaming)
    agents:                     # sequential: in order; the last one answers
      - {name: planner, role: "Make a plan for: {question}", latent_steps: 4, strategy: continuous}
      - {name: solver, role: "Answer: {question}"}
    # hierarchical instead: shared: "Question: {question}", experts: [...], summariser: {...}
    # graph: agents with `reads: [names]` (any acyclic layout; the agent no one reads answers)

An agent's fields: name, role (a template with {question}), latent_steps, strategy (a reasoning
strategy that thinks in latents), options (that strategy's settings), speaks (also write text),
model (the model it runs on; default: the one the pipeline is run with).

Agents on several models (sequential only; then every agent names its model):

    fallback: text              # a hand-over with no bridge goes as text (default); none: refuse it
    bridges:                    # how a hand-over from agents on one model to the next travels
      - {from: smollm2-135m, to: gemma3-270m, fuser: runs/bridge-fuser}     # a trained cache fuser
      - {from: gemma3-270m, to: smollm2-135m, map: g2s.safetensors, layer: 0}  # a map layer:-1
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from latentspace.agents.agent import Agent
from latentspace.agents.memory import POLICIES
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import read_text

KINDS = ("sequential", "hierarchical", "graph")
MODES = ("latent", "text", "single")
AGENT_KEYS = {"name", "role", "latent_steps", "strategy", "options", "speaks", "model"}
FALLBACKS = ("text", "none")

# Written for this project after LatentMAS's two layouts (roles in our own words).
BUILTIN = {
    "sequential": {
        "kind": "sequential", "policy": "full",
        "agents": [
            {"name": "planner", "role": "Make a short plan for solving this problem: {question}", "latent_steps": 4},
            {"name": "critic", "role": "Check the plan for mistakes: {question}", "latent_steps": 4},
            {"name": "refiner", "role": "Improve the plan: {question}", "latent_steps": 4},
            {"name": "solver", "role": "Solve the problem. Answer with only the final answer. {question}"},
        ],
    },
    "hierarchical": {
        "kind": "hierarchical", "shared": "Question: {question}",
        "experts": [
            {"name": "mathematician", "role": "Think about it as a mathematician: {question}", "latent_steps": 4},
            {"name": "logician", "role": "Think about it as a logician: {question}", "latent_steps": 4},
            {"name": "teacher", "role": "Think about how a teacher would explain it: {question}", "latent_steps": 4},
        ],
        "summariser": {"name": "summariser", "role": "Combine the experts' views and answer with only the final "
                                                     "answer. {question}"},
    },
}


@dataclass
class Pipeline:
    kind: str
    agents: list[Agent]  # sequential: all; hierarchical: the experts
    summariser: Agent | None = None
    policy: str = "full"
    shared: str = "Question: {question}"
    name: str = "pipeline"
    reads: dict[str, list[str]] | None = None  # graph: who reads whom (agents in topological order)
    press: str | None = None  # sequential: "knorm:0.5" compresses each hand-over
    bridges: dict | None = None  # agents on several models: (from, to) -> agents.cross_model.Bridge
    fallback: bool = True  # agents on several models: a hand-over with no bridge goes as text

    @property
    def models(self) -> list[str | None]:
        """The model of each agent in order (None: the one the pipeline is run with)."""
        return [a.model for a in self.agents] + ([self.summariser.model] if self.summariser else [])

    @property
    def cross_model(self) -> bool:
        return len(set(self.models)) > 1

    @property
    def final(self) -> Agent:
        return self.summariser if self.kind == "hierarchical" else self.agents[-1]


def _hand_over_press(spec, where: str):
    """The press of a ``press: NAME:RATIO`` entry; only key-only presses work on a finished memory."""
    from latentspace.memory.presses import get_press
    from latentspace.memory.presses.after import KEY_ONLY

    if not isinstance(spec, str) or spec.partition(":")[0] not in KEY_ONLY:
        raise LatentspaceError(f"{where}: press {spec!r} cannot compress a hand-over; use NAME:RATIO with "
                               f"NAME one of {', '.join(KEY_ONLY)}")
    return get_press(spec)


def _agent(raw, where: str, extra: frozenset = frozenset()) -> Agent:
    if not isinstance(raw, dict):
        raise LatentspaceError(f"{where}: an agent is a mapping with name and role")
    unknown = set(raw) - AGENT_KEYS - extra
    if unknown:
        valid = sorted(AGENT_KEYS | extra)
        raise LatentspaceError(f"{where}: unknown agent field(s) {sorted(unknown)}; valid: {valid}")
    if not isinstance(raw.get("name"), str) or not isinstance(raw.get("role"), str):
        raise LatentspaceError(f"{where}: an agent needs a text 'name' and 'role'")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise LatentspaceError(f"{where}: 'options' is a mapping of the strategy's settings")
    steps = raw.get("latent_steps", 0)
    if not isinstance(steps, int) or isinstance(steps, bool):
        raise LatentspaceError(f"{where}: latent_steps must be an integer")
    if not isinstance(raw.get("speaks", False), bool):
        raise LatentspaceError(f"{where}: speaks must be true or false")
    if not isinstance(raw.get("model", ""), str):
        raise LatentspaceError(f"{where}: model is a model name or folder")
    try:
        return Agent(raw["name"], raw["role"], steps, raw.get("strategy", "continuous"), options,
                     raw.get("speaks", False), raw.get("model"))
    except LatentspaceError as err:
        raise LatentspaceError(f"{where}: {err}") from None


def from_dict(spec: dict, name: str = "pipeline") -> Pipeline:
    """A checked `Pipeline` from a spec (see module doc); errors name the file and the agent."""
    if not isinstance(spec, dict):
        raise LatentspaceError(f"{name}: a pipeline is a mapping with 'kind' and its agents")
    kind = spec.get("kind", "sequential")
    if kind not in KINDS:
        raise LatentspaceError(f"{name}: unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "sequential":
        raw = spec.get("agents") or []
        if not isinstance(raw, list) or not raw:
            raise LatentspaceError(f"{name}: a sequential pipeline needs a non-empty 'agents' list")
        agents = [_agent(a, f"{name}: agent {i + 1}") for i, a in enumerate(raw)]
        policy = spec.get("policy", "full")
        if policy not in POLICIES:
            raise LatentspaceError(f"{name}: unknown policy {policy!r}; valid: {', '.join(POLICIES)}")
        press = spec.get("press")
        if press is not None:
            _hand_over_press(press, name)
        pipeline = Pipeline(kind, agents, policy=policy, name=name, press=press)
    elif kind == "graph":
        pipeline = _graph(spec, name)
    else:
        raw = spec.get("experts") or []
        if not isinstance(raw, list) or not raw:
            raise LatentspaceError(f"{name}: a hierarchical pipeline needs a non-empty 'experts' list")
        if "summariser" not in spec:
            raise LatentspaceError(f"{name}: a hierarchical pipeline needs a 'summariser'")
        experts = [_agent(a, f"{name}: expert {i + 1}") for i, a in enumerate(raw)]
        shared = spec.get("shared", "Question: {question}")
        Agent("shared", shared)  # same template rule
        pipeline = Pipeline(kind, experts, _agent(spec["summariser"], f"{name}: summariser"), shared=shared,
                            name=name)
    names = [a.name for a in pipeline.agents] + ([pipeline.summariser.name] if pipeline.summariser else [])
    if len(set(names)) != len(names):
        raise LatentspaceError(f"{name}: agent names must be unique, got {names}")
    if pipeline.cross_model or "bridges" in spec or "fallback" in spec:
        _cross_model(pipeline, spec, name)
    return pipeline


def _cross_model(pipeline: Pipeline, spec: dict, name: str) -> None:
    """Check and attach the bridges of a pipeline whose agents run on several models."""
    from latentspace.agents.cross_model import BRIDGE_KINDS, Bridge, check_bridges

    if pipeline.kind != "sequential":
        raise LatentspaceError(f"{name}: agents on several models work in sequential pipelines, not {pipeline.kind}")
    if None in pipeline.models:
        missing = [a.name for a in pipeline.agents if a.model is None]
        raise LatentspaceError(f"{name}: agents run on several models, so each names its model; missing for "
                               f"{', '.join(missing)}")
    if pipeline.policy != "full" or pipeline.press is not None:
        raise LatentspaceError(f"{name}: a pipeline across models hands over its whole memory: no policy other than "
                               "full, no press")
    fallback = spec.get("fallback", "text")
    if fallback not in FALLBACKS:
        raise LatentspaceError(f"{name}: fallback is one of {', '.join(FALLBACKS)}, not {fallback!r}")
    raw = spec.get("bridges", [])
    if not isinstance(raw, list):
        raise LatentspaceError(f"{name}: 'bridges' is a list of {{from, to, fuser: PATH}} or {{from, to, map: PATH, "
                               "layer: N}}")
    bridges = {}
    for i, entry in enumerate(raw):
        where = f"{name}: bridge {i + 1}"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("from", "to")):
            raise LatentspaceError(f"{where}: a bridge is a mapping with text 'from' and 'to'")
        kinds = [k for k in BRIDGE_KINDS if k in entry]
        unknown = set(entry) - {"from", "to", "layer", *BRIDGE_KINDS}
        if len(kinds) != 1 or unknown or not isinstance(entry[kinds[0]], str):
            raise LatentspaceError(f"{where}: give exactly one of fuser: PATH or map: PATH (and layer for a map)"
                                   f"{f'; unknown field(s) {sorted(unknown)}' if unknown else ''}")
        kind, layer = kinds[0], entry.get("layer")
        if kind == "map" and (not isinstance(layer, int) or isinstance(layer, bool) or layer < 0):
            raise LatentspaceError(f"{where}: a map bridge needs layer: the sharer block (an integer >= 0) whose "
                                   "states travel")
        if kind == "fuser" and layer is not None:
            raise LatentspaceError(f"{where}: a fuser bridge takes no layer (it fuses every layer it was trained on)")
        pair = (entry["from"], entry["to"])
        if pair[0] == pair[1] or not set(pair) <= set(pipeline.models):
            raise LatentspaceError(f"{where}: from and to are two of the agents' models ({', '.join(sorted(set(pipeline.models)))})")
        if pair in bridges:
            raise LatentspaceError(f"{where}: a second bridge from {pair[0]} to {pair[1]}")
        bridge = Bridge(pair[0], pair[1], kind, Path(entry[kind]), layer)
        bridge.file()  # a missing file is refused now, not after the models load
        bridges[pair] = bridge
    check_bridges(pipeline.models, bridges, fallback == "text", name)
    pipeline.bridges, pipeline.fallback = bridges, fallback == "text"


def _graph(spec: dict, name: str) -> Pipeline:
    from latentspace.agents.graph import topological

    raw = spec.get("agents") or []
    if not isinstance(raw, list) or not raw:
        raise LatentspaceError(f"{name}: a graph pipeline needs a non-empty 'agents' list")
    agents = [_agent(a, f"{name}: agent {i + 1}", frozenset({"reads"})) for i, a in enumerate(raw)]
    reads = {}
    for a, r in zip(agents, raw):
        sources = r.get("reads", [])
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
            raise LatentspaceError(f"{name}: agent {a.name!r}: 'reads' is a list of agent names")
        reads[a.name] = sources
    shared = spec.get("shared", "")
    if not isinstance(shared, str):
        raise LatentspaceError(f"{name}: 'shared' is a template text")
    if shared:
        Agent("shared", shared)
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        raise LatentspaceError(f"{name}: agent names must be unique, got {names}")
    order = topological(names, reads, name)
    by_name = {a.name: a for a in agents}
    return Pipeline("graph", [by_name[n] for n in order], shared=shared, name=name, reads=reads)


def load_pipeline(source: str | Path) -> Pipeline:
    """A built-in name (sequential, hierarchical) or a .yaml/.yml/.json file."""
    if isinstance(source, str) and source in BUILTIN:
        return from_dict(BUILTIN[source], source)
    path = Path(source)
    if not path.is_file():
        raise LatentspaceError(f"no pipeline {str(source)!r}: use {', '.join(BUILTIN)} or a .yaml/.json file")
    text = read_text(path, "pipeline file")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            spec = yaml.safe_load(text)
        else:
            spec = json.loads(text)
    except (json.JSONDecodeError, ValueError) as err:
        raise LatentspaceError(f"{path.name}: malformed pipeline file ({str(err).splitlines()[0]})") from None
    except Exception as err:  # yaml's own error types
        raise LatentspaceError(f"{path.name}: malformed pipeline file ({str(err).splitlines()[0]})") from None
    return from_dict(spec, path.name)


def run(lm: LatentModel, pipeline: Pipeline, questions, mode: str = "latent", max_new_tokens: int = 64,
        agent_tokens: int | None = None, chat: bool = True, memory=None, seed: int = 0, keep_memory: bool = False,
        models: dict | None = None):
    """The pipeline in ``mode``: latent (memory hand-over), text (agents write), single (final prompt).

    ``memory`` (latent mode only): a `LatentState` made by ``lm`` that the pipeline starts from.
    ``models``: for agents on several models, name -> `LatentModel` (``lm`` serves its own name;
    any other is loaded).
    """
    from latentspace.agents.baselines import run_single, run_text_hierarchical, run_text_sequential
    from latentspace.agents.hierarchical import run_hierarchical
    from latentspace.agents.sequential import run_sequential

    if mode not in MODES:
        raise LatentspaceError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if (memory is not None or keep_memory) and mode != "latent":
        raise LatentspaceError(f"a working memory is a latent state: it needs mode latent, not {mode}")
    if pipeline.cross_model:
        return run_cross(lm, pipeline, questions, mode, max_new_tokens, agent_tokens, chat, memory, seed,
                         keep_memory, models)
    if mode == "single":
        return run_single(lm, pipeline.final, questions, max_new_tokens, chat, seed)
    if pipeline.kind == "graph":
        from latentspace.agents.graph import run_graph, run_text_graph

        if mode == "latent":
            return run_graph(lm, pipeline.agents, pipeline.reads, questions, pipeline.shared, max_new_tokens, chat,
                             memory, agent_tokens, seed, keep_memory)
        return run_text_graph(lm, pipeline.agents, pipeline.reads, questions, pipeline.shared, max_new_tokens,
                              agent_tokens, chat, seed)
    if pipeline.kind == "sequential":
        if mode == "latent":
            press = None if pipeline.press is None else _hand_over_press(pipeline.press, pipeline.name)
            return run_sequential(lm, pipeline.agents, questions, pipeline.policy, max_new_tokens, chat, memory,
                                  agent_tokens, seed, keep_memory, press)
        return run_text_sequential(lm, pipeline.agents, questions, max_new_tokens, agent_tokens, chat, seed)
    if mode == "latent":
        return run_hierarchical(lm, pipeline.agents, pipeline.summariser, questions, pipeline.shared,
                                max_new_tokens, chat, memory, agent_tokens, seed, keep_memory)
    return run_text_hierarchical(lm, pipeline.agents, pipeline.summariser, questions, pipeline.shared,
                                 max_new_tokens, agent_tokens, chat, seed)


def agent_models(lm: LatentModel, pipeline: Pipeline, models: dict | None = None) -> dict:
    """name -> LatentModel for every model the pipeline's agents name (given, ``lm``, or loaded)."""
    from latentspace.model.latent_model import LatentModel

    out = dict(models or {})
    for name in dict.fromkeys(pipeline.models):
        if name not in out:
            out[name] = lm if lm is not None and lm.name == name else LatentModel.load(name, show_progress=False)
    return out


def run_cross(lm: LatentModel, pipeline: Pipeline, questions, mode: str, max_new_tokens: int, agent_tokens,
              chat: bool, memory,
              seed: int, keep_memory: bool, models: dict | None):
    """`run` for agents on several models: latent (bridges or text between models), text, single."""
    from latentspace.agents.baselines import run_single, run_text_sequential
    from latentspace.agents.cross_model import run_cross_model

    if memory is not None or keep_memory:
        raise LatentspaceError(f"{pipeline.name}: a working memory belongs to one model; its agents run on several")
    models = agent_models(lm, pipeline, models)
    if mode == "single":
        return run_single(models[pipeline.final.model], pipeline.final, questions, max_new_tokens, chat, seed)
    if mode == "text":
        return run_text_sequential(None, pipeline.agents, questions, max_new_tokens, agent_tokens, chat, seed,
                                   models=[models[a.model] for a in pipeline.agents])
    return run_cross_model(models, pipeline.models, pipeline.agents, questions, pipeline.bridges, pipeline.fallback,
                           max_new_tokens, agent_tokens, chat, seed)
