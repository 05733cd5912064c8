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
strategy that thinks in latents), options (that strategy's settings), speaks (also write text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from latentspace.agents.agent import Agent
from latentspace.agents.memory import POLICIES
from latentspace.errors import LatentspaceError
from latentspace.files import read_text

KINDS = ("sequential", "hierarchical", "graph")
MODES = ("latent", "text", "single")
AGENT_KEYS = {"name", "role", "latent_steps", "strategy", "options", "speaks"}

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
    try:
        return Agent(raw["name"], raw["role"], steps, raw.get("strategy", "continuous"), options,
                     raw.get("speaks", False))
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
    return pipeline


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


def run(lm, pipeline: Pipeline, questions, mode: str = "latent", max_new_tokens: int = 64,
        agent_tokens: int | None = None, chat: bool = True, memory=None, seed: int = 0, keep_memory: bool = False):
    """The pipeline in ``mode``: latent (memory hand-over), text (agents write), single (final prompt).

    ``memory`` (latent mode only): a `LatentState` made by ``lm`` that the pipeline starts from.
    """
    from latentspace.agents.baselines import run_single, run_text_hierarchical, run_text_sequential
    from latentspace.agents.hierarchical import run_hierarchical
    from latentspace.agents.sequential import run_sequential

    if mode not in MODES:
        raise LatentspaceError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if (memory is not None or keep_memory) and mode != "latent":
        raise LatentspaceError(f"a working memory is a latent state: it needs mode latent, not {mode}")
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
