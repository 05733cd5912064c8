"""The CLI's help and the model layer's package import light (issue 21): no torch, no transformers."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "safetensors", "numpy")

# run in a fresh interpreter: every command path of the app, its --help in process, then what was loaded
EVERY_HELP = """
import json, sys
import typer
from typer.testing import CliRunner
from latentspace.cli.app import app

def paths(command, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):  # typer's groups: their own click's
        yield from paths(sub, (*prefix, name))

runner = CliRunner()
answers = []
for path in paths(typer.main.get_command(app)):
    result = runner.invoke(app, [*path, "--help"])
    answers.append({"path": list(path), "code": result.exit_code, "usage": "Usage:" in result.output,
                    "error": repr(result.exception) if result.exception else None})
print(json.dumps({"answers": answers, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def run_fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_help_answers_without_torch():
    found = run_fresh(EVERY_HELP)
    answers = found["answers"]
    paths = [" ".join(a["path"]) for a in answers]
    assert paths[0] == "" and {"think", "models", "lens", "memory add", "train run", "steer train"} <= set(paths)
    failed = [a for a in answers if a["code"] != 0 or not a["usage"]]
    assert not failed, failed
    assert found["heavy"] == []


def test_the_model_package_imports_without_torch():
    found = run_fresh("import json, sys\nimport latentspace.model\nimport latentspace.model.names\n"
                      "print(json.dumps({'heavy': [m for m in %r if m in sys.modules]}))" % (HEAVY,))
    assert found["heavy"] == []


def test_the_model_package_names_still_resolve_on_first_use():
    import latentspace.model as model
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.registry import REGISTRY

    assert model.LatentModel is LatentModel and model.REGISTRY is REGISTRY
    assert model.DEFAULT_MODEL == "smollm2-135m" and model.DEFAULT_MODEL in REGISTRY
    assert set(model.__all__) <= set(dir(model)) and len(dir(model)) == len(set(dir(model)))


def test_the_light_homes_hold_the_heavy_modules_values():
    from latentspace.core import limits
    from latentspace.model import names, registry
    from latentspace.reason import base

    assert registry.DEFAULT_MODEL == names.DEFAULT_MODEL
    assert base.MAX_LATENT_STEPS == limits.MAX_LATENT_STEPS
