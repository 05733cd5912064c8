"""`latentspace generate`: plain text generation through the LatentModel decode loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, literal, load_model, say, seed_option
from latentspace.cli.options import PressOpt, RatioOpt, StrengthOpt, finite, make_press, positive
from latentspace.core.limits import MAX_NEW_TOKENS


def generate(
    prompt: Annotated[str, typer.Argument(help="The prompt (a user message unless --raw).")],
    model: ModelOpt = DEFAULT,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=MAX_NEW_TOKENS, help="Most new tokens.")] = 64,
    # the server's ranges: temperature [0, 2] (past it sampling is noise), top_p (0, 1]
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, callback=finite, help="0 = greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option(max=1.0, callback=positive, help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[int, seed_option("Sampling seed.")] = 0,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Do not apply the chat template.")] = False,
    steer: Annotated[Path | None, typer.Option(help="Steer with this vector (.safetensors or .gguf).")] = None,
    strength: StrengthOpt = None,
    steer_positions: Annotated[str, typer.Option(help="Steer all, prompt or generated positions.")] = "all",
    press: PressOpt = None,
    ratio: RatioOpt = None,
    max_cache: Annotated[int | None, typer.Option("--max-cache", min=8, help="Decode-time compression: "
                                                  "keep at most this many cache slots (StreamingLLM).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Generate text, streaming it as it comes.

    Examples: latentspace generate "What is the capital of France?" -n 20 ;
    latentspace generate "Tell me about your day." --steer happy.safetensors --strength 0.3
    """
    from latentspace.cli.options import steering
    from latentspace.memory.presses.after import decode_shrink

    the_press = make_press(press, ratio)
    lm = load_model(model, quiet=json_out)
    started = time.perf_counter()
    stream = None if json_out else (lambda row, piece: say(piece, end=""))
    with steering(lm, steer, strength, steer_positions):
        state = lm.encode(prompt, chat=not raw, press=the_press)
        result = lm.decode(state, max_new_tokens=max_tokens, temperature=temperature, top_p=top_p,
                           seed=seed, stop=stop or (), on_text=stream, max_cache=max_cache,
                           shrink=decode_shrink() if max_cache is not None else None)
    seconds = time.perf_counter() - started
    data = {"model": lm.name, "prompt": prompt, "text": result.texts[0], "tokens": result.n_tokens,
            "stop_reason": result.stop_reasons[0], "seconds": round(seconds, 3)}
    if json_out:
        emit_json(data)
    else:
        console.print(f"\n[dim]{data['tokens']} tokens, {seconds:.2f} s, stop: {literal(data['stop_reason'])}[/dim]")
