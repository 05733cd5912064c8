"""Tour: perceive and imagine in latent space (issue 41) — a tiny vision-language model trained for seconds
with latent visual thoughts on FrozenLake pictures, one question's imagined states beside the true ones,
and what the thoughts hold (probe, replacement test)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def imagined_states(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.studies.imagery import imagery, plot_imagined
    from latentspace.train.trainer import train

    small = lm.name.startswith("tiny")  # the test suite's tour: the same code at toy size
    profile = get_profile("smoke-vsp")
    sizes = {"n_train": 24, "n_valid": 4, "n_test": 8} if small else {"n_train": 600, "n_valid": 50, "n_test": 100}
    profile = replace(profile, **sizes)
    epochs = 2 if small else 6
    recipe = get_recipe("visual", epochs=epochs, teacher_epochs=epochs // 2, target_steps=20 if small else 300)
    folder = out / "vsp-visual"
    summary = train(TrainRun(recipe, "vsp", profile, folder, extra={"save_every": epochs}), progress=False)
    report = imagery(folder, n=profile.n_test, probe_items=profile.n_train, batch_size=profile.n_test)
    images = [plot_imagined(report.example, out / "vsp-imagined.png")]
    rows = [{"reading": "answers", "accuracy %": round(100 * report.accuracy, 1)}]
    rows += [{"reading": f"thoughts replaced: {how}", "accuracy %": round(100 * v, 1)}
             for how, v in report.replacement.items()]
    rows += [{"reading": "cell probe / shuffled labels",
              "accuracy %": f"{100 * report.probe:.1f} / {100 * report.probe_shuffled:.1f}"},
             {"reading": "nearest picture on the true cell", "accuracy %": round(100 * report.nearest, 1)}]
    text = (f"A tiny vision-language model (a patch encoder making 16 tokens of a 32×32 FrozenLake picture, into a "
            f"{profile.layers}-layer GPT-2) trained {epochs} epochs on {profile.n_train} plans with latent visual "
            f"thoughts (`visual`, Mirage's two stages: 4 slots per move first hold a frozen autoencoder's codes of the "
            f"picture after that move while the state before each is pulled to them, then the model's own states are "
            f"fed back). Test accuracy {100 * summary['test_accuracy']:.1f}% (A/B/C, chance 33%) — seconds of "
            "training do not teach it the task. The picture shows one question's true states and the pictures its "
            "thoughts are nearest to. The table with direct answers, text CoT, the pause control and the stage "
            "ablation, in and out of distribution: `benchmarks/bench_vsp.py`; look inside any run with "
            "`latentspace train imagery RUN`.")
    return SectionResult("Perceive and imagine in latent space", text, rows, images,
                         {"test_accuracy": summary["test_accuracy"], "probe": report.probe,
                          "probe_shuffled": report.probe_shuffled, "nearest": report.nearest,
                          "replacement": report.replacement})
