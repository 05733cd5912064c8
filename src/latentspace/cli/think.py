"""`latentspace think`: answer one question with a reasoning strategy and show its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import (DEFAULT, JsonOpt, ModelOpt, console, emit_json, literal, load_model, parse_sets,
                                    say, seed_option)
from latentspace.cli.options import PressOpt, RatioOpt, StrengthOpt, make_press
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_LATENT_STEPS, MAX_NEW_TOKENS
from latentspace.names import STRATEGIES


def think(
    question: Annotated[str, typer.Argument(help="The question.")],
    mode: Annotated[str, typer.Option(help=f"Strategy: {', '.join(STRATEGIES)}, or agents:PIPELINE[:MODE].")] = "soft",
    model: ModelOpt = DEFAULT,
    steps: Annotated[int | None, typer.Option(min=0, max=MAX_LATENT_STEPS, help="Most latent steps.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", "-n", min=1, max=MAX_NEW_TOKENS,
                                                   help="Most answer tokens.")] = None,
    seed: Annotated[int, seed_option("Seed (sampling strategies).")] = 0,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Any strategy option, key=value (repeatable).")] = None,
    show: Annotated[bool, typer.Option("--show", help="Print every step with its lens reading.")] = False,
    steer: Annotated[Path | None, typer.Option(help="Steer with this vector (.safetensors or .gguf).")] = None,
    strength: StrengthOpt = None,
    steer_positions: Annotated[str, typer.Option(help="Steer all, prompt or generated positions.")] = "all",
    press: PressOpt = None,
    ratio: RatioOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Think with a strategy, then answer; every latent step is read through the lens.

    Examples: latentspace think "What is 7 times 8?" --mode soft --steps 4 --show ;
    latentspace think "Is a cat a mammal?" --mode continuous --set alignment=norm --json
    """
    from latentspace.strategies import get_strategy

    options = parse_sets(set_)
    for flag, key, value in (("--steps", "max_latent_steps", steps), ("--max-tokens", "max_new_tokens", max_tokens)):
        if value is not None:
            if key in options:  # two values for one option: neither is silently dropped
                raise LatentspaceError(f"{flag} and --set {key} both given; use one")
            options[key] = value
    reasoner = get_strategy(mode, **options)  # every option checked against its declared range
    from latentspace.cli.options import steering

    the_press = make_press(press, ratio)
    lm = load_model(model, quiet=json_out)
    with steering(lm, steer, strength, steer_positions), lm.pressing(the_press):
        trace = reasoner.run(lm, question, seed=seed)
    if json_out:
        emit_json(trace.to_dict())
        return
    if show:
        console.print(trace.table())
    say(trace.text.strip())
    console.print(f"[dim]{trace.latent_steps} latent steps, {trace.explicit_tokens} tokens, {trace.positions} "
                  f"positions, {trace.wall_seconds:.2f} s; {literal(trace.stop_reason)}[/dim]")
