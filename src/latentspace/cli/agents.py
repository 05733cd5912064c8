"""`latentspace agents`: run a multi-agent pipeline in latent, text or single-agent mode."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, literal, load_model, say, seed_option
from latentspace.core.limits import MAX_NEW_TOKENS
from latentspace.names import PIPELINES


def agents(
    question: Annotated[str, typer.Argument(help="The question.")],
    pipeline: Annotated[str, typer.Option(
        help=f"{', '.join(PIPELINES)}, or a .yaml/.json pipeline file.")] = "sequential",
    mode: Annotated[str, typer.Option(help="latent (pass KV memory), text (agents write), single (final prompt).")] = "latent",
    model: ModelOpt = DEFAULT,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=MAX_NEW_TOKENS, help="Answer tokens.")] = 64,
    agent_tokens: Annotated[int | None, typer.Option(
        min=1, max=MAX_NEW_TOKENS, help="Tokens each text (or speaking) agent writes (default: -n).")] = None,
    memory: Annotated[Path | None, typer.Option(help="Start from a saved working memory (latent mode; made by this model).")] = None,
    save_memory: Annotated[Path | None, typer.Option(help="Save the final working memory here (latent mode).")] = None,
    seed: Annotated[int, seed_option("Seed for strategies that sample.")] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="Do not apply the chat template.")] = False,
    show: Annotated[bool, typer.Option("--show", help="Print the transcript: what each agent received, thought and wrote.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Agents collaborate on one question; only the last one answers.

    Examples: latentspace agents "What is 12 times 7?" --pipeline hierarchical --show ;
    latentspace agents "Is a cat a mammal?" --mode text --json ;
    latentspace agents "Summarise it" --memory doc.safetensors --save-memory after.safetensors ;
    agents on two models (a hand-over by cache fuser, map or text): docs/agents.md, "Agents on several models".
    """
    from latentspace.agents.pipelines import MODES, load_pipeline, run
    from latentspace.core.errors import LatentspaceError
    from latentspace.core.files import check_output
    from latentspace.model.state import LatentState

    spec = load_pipeline(pipeline)  # checked before the model loads
    if mode not in MODES:
        raise LatentspaceError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if (memory or save_memory) and mode != "latent":
        raise LatentspaceError(f"--memory and --save-memory hold a latent working memory: use --mode latent, not {mode}")
    if save_memory:
        check_output(save_memory, "--save-memory", inputs=(memory, pipeline))  # before the pipeline runs
    if spec.cross_model and (memory or save_memory):
        raise LatentspaceError(f"{spec.name}: a working memory belongs to one model; its agents run on several")
    lm = load_model(model, quiet=json_out)
    models = {name: lm if name == lm.name else load_model(name, quiet=json_out)
              for name in dict.fromkeys(spec.models)} if spec.cross_model else None
    start = LatentState.load(memory, lm.fingerprint, lm.device, model=lm) if memory else None
    result = run(lm, spec, question, mode, max_tokens, agent_tokens, chat=not raw, memory=start, seed=seed,
                 keep_memory=save_memory is not None, models=models)
    saved = str(result.memory.save(save_memory, lm.fingerprint, {"pipeline": spec.name, "question": question})) \
        if save_memory else None
    data = {"model": lm.name, "models": list(models or [lm.name]), "pipeline": spec.name, "kind": spec.kind, "mode": result.mode,
            "policy": result.policy, "answer": result.texts[0], "output_tokens": result.output_tokens,
            "processed_positions": result.processed_positions, "seconds": round(result.seconds, 3),
            "decoding": result.decoding, "memory_saved": saved, "turns": [asdict(t) for t in result.turns]}
    if json_out:
        emit_json(data)
        return
    if show:
        console.print(transcript(spec, result))
    say(result.texts[0].strip())
    console.print(f"[dim]{result.mode}: {data['output_tokens']} output tokens, {data['processed_positions']} "
                  f"positions, {result.seconds:.2f} s{f', memory saved to {literal(saved)}' if saved else ''}[/dim]")


def transcript(spec, result) -> Table:
    """One row per agent: what it received (slots by source), read, thought (lens top-1) and wrote."""
    table = Table(title=literal(f"{spec.name} ({spec.kind}, {result.mode})"))
    for col in ("agent", *(("model",) if spec.cross_model else ()), "received", "read", "thoughts: lens top-1 (p)",
                "wrote"):
        table.add_column(col, justify="right" if col == "read" else "left", overflow="fold")
    for t in result.turns:
        received = ", ".join(f"{k} {v}" for k, v in (t.received_from or {}).items()) or str(t.received_slots)
        steps = (t.thoughts or [[]])[0]
        thoughts = " · ".join(f"{s.top[0][0].strip() or repr(s.top[0][0])} ({s.top[0][1]:.2f})"
                              for s in steps if s.top) or "—"
        wrote = t.texts[0].strip().replace("\n", " ")[:80] if t.texts else "—"
        own = ((t.model or "") + (f" ({t.handover})" if t.handover else ""),) if spec.cross_model else ()
        table.add_row(*(literal(cell) for cell in (t.agent, *own, received, t.prompt_tokens[0], thoughts, wrote)))
    return table
