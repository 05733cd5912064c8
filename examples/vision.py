"""Latent visual thoughts in a few lines: a FrozenLake picture task, a tiny vision-language model trained with
Mirage's two stages, and a look at what its thoughts hold.

    .venv/bin/python examples/vision.py            # 2,000 plans, 10 epochs (minutes on a laptop CPU)
    .venv/bin/python examples/vision.py --tiny     # seconds (what the test runs)
"""

import argparse
import tempfile
from pathlib import Path

from latentspace.tasks import get_task
from latentspace.tasks.vsp import render
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.evaluate_run import evaluate_run
from latentspace.train.studies.imagery import imagery, plot_imagined
from latentspace.train.trainer import train

parser = argparse.ArgumentParser()
parser.add_argument("--tiny", action="store_true")
args = parser.parse_args()

# 1. the task: a map picture and a plan; A reaches the goal, B falls in a hole, C stays safe elsewhere
item = get_task("vsp").generate(1, seed=0)[0]
print(item.meta["map"], item.question, "->", item.answer, "| steps:", item.steps)
print("picture:", tuple(render(item.meta["map"]).shape))

# 2. a tiny VLM from scratch (patch tokens into GPT-2): stage 1 feeds the frozen encoder's codes of each
#    intermediate picture into 4 slots per move and pulls the state before each slot to them; stage 2 feeds back
profile = get_profile("smoke-vsp" if args.tiny else "laptop-vsp")
sizes = {"n_train": 24, "n_valid": 4, "n_test": 8} if args.tiny else {"n_train": 2000, "n_valid": 100, "n_test": 200}
epochs = 2 if args.tiny else 10
recipe = get_recipe("visual", epochs=epochs, teacher_epochs=epochs // 2, target_steps=20 if args.tiny else 1500)
out = Path(tempfile.mkdtemp()) / "visual"
summary = train(TrainRun(recipe, "vsp", profile, out, extra=sizes), progress=not args.tiny)
print(f"test accuracy {100 * summary['test_accuracy']:.1f}% (chance 33%)")

# 3. out of distribution: 6x6 maps or plans of 8 moves, never seen in training
print(f"out of distribution: {100 * evaluate_run(out, 'vsp-ood', n=sizes['n_test']).accuracy:.1f}%")

# 4. what the thoughts hold: replaced by zeros / noise / another item's / the oracle targets, a cell probe, pictures
report = imagery(out, n=sizes["n_test"], probe_items=sizes["n_train"])
print("replacement:", {k: round(v, 3) for k, v in report.replacement.items()},
      f"probe {report.probe:.2f} (shuffled {report.probe_shuffled:.2f})")
print("imagined states:", plot_imagined(report.example, out / "imagined.png"))
