"""`latentspace agents`: run a multi-agent pipeline in latent, text or single-agent mode."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, load_model


def agents(
    question: Annotated[str, typer.Argument(help="The question.")],
    pipeline: Annotated[str, typer.Option(help="sequential, hierarchical, or a .yaml/.json pipeline file.")] = "sequential",
    mode: Annotated[str, typer.Option(help="latent (pass KV memory), text (agents write), single (final prompt).")] = "latent",
    model: ModelOpt = DEFAULT,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, help="Answer tokens.")] = 64,
    agent_tokens: Annotated[int | None, typer.Option(min=1, help="Tokens each text agent writes (default: -n).")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Do not apply the chat template.")] = False,
    show: Annotated[bool, typer.Option("--show", help="Print the transcript: what each agent received and did.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Agents collaborate on one question; only the last one answers.

    Examples: latentspace agents "What is 12 times 7?" --pipeline hierarchical --show ;
    latentspace agents "Is a cat a mammal?" --mode text --json
    """
    from latentspace.agents.pipelines import load_pipeline, run

    spec = load_pipeline(pipeline)  # checked before the model loads
    lm = load_model(model, quiet=json_out)
    result = run(lm, spec, question, mode, max_tokens, agent_tokens, chat=not raw)
    data = {"model": lm.name, "pipeline": spec.name, "kind": spec.kind, "mode": result.mode,
            "policy": result.policy, "answer": result.texts[0], "output_tokens": result.output_tokens,
            "processed_positions": result.processed_positions, "seconds": round(result.seconds, 3),
            "decoding": result.decoding, "turns": [asdict(t) for t in result.turns]}
    if json_out:
        emit_json(data)
        return
    if show:
        table = Table(title=f"{spec.name} ({spec.kind}, {result.mode})")
        for col in ("agent", "received slots", "prompt tokens", "latent steps", "wrote"):
            table.add_column(col, justify="left" if col in ("agent", "wrote") else "right")
        for t in result.turns:
            wrote = (t.texts[0].strip().replace("\n", " ")[:70] if t.texts else "—")
            table.add_row(t.agent, str(t.received_slots), str(t.prompt_tokens[0]), str(t.latent_steps), wrote)
        console.print(table)
    console.print(result.texts[0].strip(), highlight=False)
    console.print(f"[dim]{result.mode}: {data['output_tokens']} output tokens, {data['processed_positions']} "
                  f"positions, {result.seconds:.2f} s[/dim]")
