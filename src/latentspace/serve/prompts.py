"""From an OpenAI-style request to a `Work`: which strategy, which text it reads, which objects.

- Plain request (no ``latent.strategy``): `direct` with no added instruction, reading the rendered
  conversation (chat) or the prompt exactly (completions) — what any OpenAI server does.
- A strategy and one user message: the strategy's own prompt for that question, exactly as
  ``get_strategy(strategy).run(lm, question, seed)`` builds it, so the trace is the library's.
- A strategy and a longer conversation: the conversation rendered, the strategy's instruction
  added to the last user message.
- Memories: the question continues the recalled memories (`memory.layout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.model.text import has_chat
from latentspace.serve.errors import ApiError
from latentspace.serve.generation import Work, check_strategy_options
from latentspace.serve.schemas import LatentOptions
from latentspace.strategies import PIPELINE_PREFIX, get_strategy, is_pipeline

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

ROLES = {"developer": "system", "tool": "user"}  # roles chat templates may not know


def build_work(server, body, chat: bool) -> Work:
    from latentspace.memory import layout

    lm = server.model(body.model)
    latent = body.latent or LatentOptions()
    max_tokens = body.max_completion_tokens or body.max_tokens or server.config.default_max_tokens
    if max_tokens > server.config.max_tokens_limit:
        raise ApiError(400, f"max_tokens {max_tokens} is over this server's limit of "
                       f"{server.config.max_tokens_limit}", "max_tokens_too_large")
    strategy = _strategy(server, latent.strategy)
    options = dict(latent.options)
    check_strategy_options(options, server.config.max_tokens_limit)
    custom = bool(options)
    agents = is_pipeline(strategy)
    if agents:
        if body.temperature != 0 or body.stops() or latent.steps is not None:
            raise LatentspaceError("agent pipelines answer greedily: no temperature, stop or latent.steps")
        options["max_new_tokens"] = max_tokens
    else:
        if latent.steps is not None:
            options["max_latent_steps"] = latent.steps
        options.update(max_new_tokens=max_tokens, answer_temperature=body.temperature, answer_top_p=body.top_p,
                       answer_stops=body.stops())
    if strategy is None:
        options["instruction"] = ""
        if not latent.trace:
            options["lens_k"] = 0  # nobody reads the per-token top-k: skip decoding it
    reasoner = get_strategy(strategy or "direct", **options)
    holds = ()
    if agents:  # its agents run on served models only, each inside its own queue (never a model loaded for it)
        _, reasoner.models = server.pipeline_models(reasoner.pipeline, lm.name)
        holds = tuple(name for name in reasoner.models if name != lm.name)
    question, prompt = _texts(lm, body, chat, reasoner, strategy is not None)
    for ref in latent.steer:
        server.library.vector(lm, ref.id)  # unknown, broken or another model's: 4xx now, before any stream
    if latent.memories:
        for memory_id in latent.memories:
            server.library.memory_info(memory_id)  # unknown ids fail here, with a 404
        if chat and len(body.messages) != 1:
            raise LatentspaceError("with memories, send one user message: the question (the memories are the rest)")
        instruction = reasoner.instruction
        asked = f"{question.strip()}\n{instruction}" if strategy is not None and instruction else question
        prompt = None if agents else layout.question_text(lm, asked)
    if agents and prompt is not None:
        raise LatentspaceError("an agent pipeline reads one question: send one user message")
    return Work(question=question, prompt=prompt, reasoner=reasoner, seed=body.seed or 0,
                steer=[(s.id, s.strength) for s in latent.steer], steer_positions=latent.steer_positions,
                memories=list(latent.memories), press=_press(latent.press), stream=body.stream, trace=latent.trace,
                custom=custom, holds=holds)


def _strategy(server, name: str | None) -> str | None:
    """The strategy name; an agent pipeline must be built in or in the server's pipelines folder."""
    if not is_pipeline(name):
        return name or None
    from latentspace.agents.as_strategy import split_spec

    source, mode = split_spec(name)
    return f"{PIPELINE_PREFIX}{server.library.pipeline(source)}:{mode}"


def _texts(lm: LatentModel, body, chat: bool, reasoner, has_strategy: bool) -> tuple[str, str | None]:
    """(the question that labels the trace, the exact prompt text or None for the strategy's own)."""
    if not chat:
        prompt = body.prompt if isinstance(body.prompt, str) else _one(body.prompt)
        if not prompt.strip():
            raise LatentspaceError("empty prompt")
        return prompt, prompt
    messages = [(ROLES.get(m.role, m.role), m.text()) for m in body.messages]
    if messages[-1][0] != "user" or not messages[-1][1].strip():
        raise LatentspaceError("the last message must be a non-empty user message")
    question = messages[-1][1]
    if has_strategy and len(messages) == 1:
        return question, None  # the library's own prompt for this question
    if has_strategy and reasoner.instruction:
        messages[-1] = ("user", f"{question.strip()}\n{reasoner.instruction}")
    return question, render(lm, messages)


def render(lm: LatentModel, messages: list[tuple[str, str]]) -> str:
    """The conversation as the model reads it, ending where the assistant speaks."""
    if not has_chat(lm.tokenizer):  # a base model: the turns as plain lines
        return "\n".join(text for _, text in messages) + "\n"
    turns = [{"role": role, "content": text} for role, text in messages]
    try:
        return lm.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
    except Exception as err:  # noqa: BLE001 - jinja's TemplateError and what a template raises itself
        raise LatentspaceError(f"the model's chat template refuses this conversation: {err}"[:300]) from None


def _one(prompts: list[str]) -> str:
    if len(prompts) != 1:
        raise LatentspaceError(f"one prompt per request; got {len(prompts)}")
    return prompts[0]


def _press(spec: str | None):
    if not spec:
        return None
    from latentspace.memory.presses import get_press

    return get_press(spec)
