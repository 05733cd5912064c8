"""Tour: a model trained to think in vectors (CoT2 on MNNS), and what each of its thoughts holds.

A 2-layer 32-d GPT-2 learns the minimum non-negative sum of four signed digits with continuous
thoughts (`cot2`, about a minute on a laptop CPU). Each thought is a softmax mix of token
embeddings; reading it shows the search in superposition: thought t spreads its mass over the
partial sums of the first t digits under *every* sign choice, not one guess.
The full comparison with No-CoT, CoT and Coconut over seeds is `latentspace train table`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from latentspace.tour.section import SectionResult

EPOCHS = 80  # ~1-2 min on 2 cores: CoT2 passes 90% on validation by epoch 75 (the table trains 600)


def tour_model(lm: LatentModel, out: Path):
    """The tour's CoT2 model on MNNS, trained once into ``out/mnns-cot2`` (a later section reuses it):
    (folder, profile, recipe, summary)."""
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.trainer import train

    small = lm.name.startswith("tiny")  # the test suite's tour: the same code at toy size
    profile = get_profile("smoke-mnns" if small else "laptop-mnns")
    profile = replace(profile, n_valid=50, n_test=300) if not small else profile
    options = {**profile.recipe_options.get("cot2", {}), "epochs": 2 if small else EPOCHS}  # laptop-mnns: no `###`
    recipe = get_recipe("cot2", **options)
    folder = out / "mnns-cot2"
    summary = train(TrainRun(recipe, "mnns", profile, folder, extra={"save_every": recipe.epochs}), progress=False)
    return folder, profile, recipe, summary


def trained_thoughts(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.markers import LATENT
    from latentspace.tasks import load_jsonl

    folder, profile, recipe, summary = tour_model(lm, out)
    item = load_jsonl(folder / "data" / "test.jsonl")[0]
    model = LatentModel.load(str(folder / "checkpoint"), show_progress=False)
    latent = model.tokenizer.convert_tokens_to_ids(LATENT)
    state = model.encode(torch.tensor([model.tokenizer.encode(item.question, add_special_tokens=False)]))
    rows = []
    for t in range(len(item.steps)):
        probs = torch.softmax(state.logits.float(), -1)[0]
        true = sorted({int(trace[t]) for trace in item.meta["traces"]})  # every sign choice's partial sum
        ids = model.tokenizer.convert_tokens_to_ids([str(v) for v in true])
        top = probs.topk(4)
        rows.append({"thought": t + 1, "top tokens (probability)": ", ".join(
            f"{model.tokenizer.convert_ids_to_tokens(int(i))} ({p:.2f})" for p, i in zip(top.values, top.indices)),
            "partial sums of every sign choice": " ".join(map(str, true)),
            "mass on them": round(float(probs[ids].sum()), 3)})
        state = model.step(state, recipe.thought_inputs(model, state, latent))
    answer = recipe.answer_in(model.decode(state, max_new_tokens=4).texts[0])
    text = (f"A 2-layer {profile.hidden}-d GPT-2 trained {recipe.epochs} epochs with continuous thoughts (cot2) on the "
            f"minimum non-negative sum of four signed digits scores {100 * summary['test_accuracy']:.1f}% on "
            f"{summary['test_n']} held-out problems. For {item.question} (answer {item.answer}; it says "
            f"{answer or '?'}) each thought spreads its mass over the partial sums of every sign choice — a search in "
            "superposition, read through the lens. `latentspace train table --profile laptop-mnns` compares No-CoT, "
            "CoT, Coconut and CoT2 over five seeds.")
    return SectionResult("Trained latent thoughts (CoT2 on MNNS)", text, rows,
                         data={"question": item.question, "answer": item.answer, "summary": summary})
