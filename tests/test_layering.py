"""How the package loads (issue 21): the top-level package is lazy, so its light modules stay light."""

import ast
import subprocess
import sys
from pathlib import Path


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_package_and_its_errors_import_without_torch():
    assert "torch" not in loaded_after("import latentspace, latentspace.errors")


def test_the_package_names_still_resolve_on_first_use():
    import latentspace

    assert latentspace.load == latentspace.LatentModel.load
    assert latentspace.LatentspaceError.__module__ == "latentspace.errors"
    assert set(latentspace.__all__) <= set(dir(latentspace))


# The documented layering (docs/architecture.md): a package imports only packages of lower layers (and
# itself). Read from the source with ast, so an import inside a function counts as much as one at the top.
LAYERS = [
    {"core"},  # the ground floor: one policy a module (errors, files, JSON, budgets, the saved format, ...)
    {"model", "tasks", "trace"},
    {"vision"},  # pictures for latent visual thoughts: knows tasks (the pictures), no language model
    {"lens"},
    {"reason", "steer", "memory"},
    {"bridge"},  # below agents: a pipeline's hand-over between models goes through a bridge
    {"agents", "audit", "train", "world"},
    {"search"},  # sampled thought paths and selectors over train (and reason): above both
    {"names"},  # every registry's names as plain tuples (imports nothing): help text and schema descriptions
    {"strategies"},
    {"serve", "bench"},
    {"tour"},
    {"cli"},
]
# inside the ground floor, the same rule a module at a time: a policy uses only the policies below it
CORE_LAYERS = [
    {"errors", "jsonsafe", "limits"},
    {"files", "finite", "named", "stats"},
    {"checked"},
    {"saved", "step_checkpoint", "plots", "pages"},
]
# packages that stand on the ground floor alone (the world model knows no language model)
CORE_ONLY = {"world"}
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}
SRC = Path(__file__).resolve().parents[1] / "src" / "latentspace"


def imports_of(path: Path) -> list[tuple[str, int]]:
    """``(imported latentspace module, line)`` for every import in one file, relative ones resolved."""
    module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            if source == "latentspace":  # `from latentspace import files`: each name is a module
                found += [(f"latentspace.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((source, node.lineno))
    return [(name, line) for name, line in found if name and name.split(".")[0] == "latentspace"]


def unit_of(module: str) -> str:
    """The layered unit a module belongs to: its package under latentspace, or its own name."""
    return module.split(".")[1] if module.count(".") else "latentspace"


def upward_imports() -> list[str]:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":
            continue  # the lazy facade names everything; it imports nothing until a name is used
        here = unit_of(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        for name, line in imports_of(path):
            there = unit_of(name)
            if there != here and LEVEL[there] >= LEVEL[here]:
                wrong.append(f"{path.relative_to(SRC)}:{line} ({here}, layer {LEVEL[here]}) imports {name} "
                             f"(layer {LEVEL[there]})")
            elif here in CORE_ONLY and there not in {here, "core"}:
                wrong.append(f"{path.relative_to(SRC)}:{line} ({here}, on the ground floor only) imports {name}")
    return wrong


CORE_LEVEL = {name: i for i, layer in enumerate(CORE_LAYERS) for name in layer}


def core_upward_imports() -> list[str]:
    """The ground floor's own order: a core module imports only core modules of lower rows."""
    wrong = []
    for path in sorted((SRC / "core").glob("*.py")):
        if path.name == "__init__.py":
            continue
        for name, line in imports_of(path):
            parts = name.split(".")
            if parts[:2] != ["latentspace", "core"] or len(parts) < 3:
                continue
            if CORE_LEVEL[parts[2]] >= CORE_LEVEL[path.stem] and parts[2] != path.stem:
                wrong.append(f"core/{path.name}:{line} imports {name}")
    return wrong


def test_every_package_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
             if (p.is_file() and p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    units -= {"static"}
    assert sorted(units - set(LEVEL)) == [] and sorted(set(LEVEL) - units) == []


def test_no_import_runs_against_the_layering():
    assert upward_imports() == []


def test_every_core_module_has_a_row_and_none_imports_upward():
    modules = {p.stem for p in (SRC / "core").glob("*.py") if p.name != "__init__.py"}
    assert modules == set(CORE_LEVEL)
    assert core_upward_imports() == []


def test_the_root_shows_the_floors():
    """Beside the packages, only the two connecting modules (and the lazy facade) stand at the root."""
    loose = sorted(p.name for p in SRC.glob("*.py"))
    assert loose == ["__init__.py", "strategies.py", "trace.py"]


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The walk itself can fail: a model module importing the memory package is reported."""
    fake = tmp_path / "latentspace"
    (fake / "model").mkdir(parents=True)
    (fake / "memory").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "model" / "__init__.py").write_text("")
    (fake / "memory" / "__init__.py").write_text("")
    (fake / "model" / "bad.py").write_text("def f():\n    from latentspace.memory import presses\n")
    (fake / "memory" / "fine.py").write_text("from ..model import bad\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert upward_imports() == ["model/bad.py:2 (model, layer 1) imports latentspace.memory (layer 4)"]


def test_the_checker_sees_the_world_model_leave_the_ground_floor(tmp_path, monkeypatch):
    """`world` may import only `core`: an import of a lower layer that is not core is reported too."""
    fake = tmp_path / "latentspace"
    for package in ("world", "model", "core"):
        (fake / package).mkdir(parents=True)
        (fake / package / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "world" / "fine.py").write_text("from latentspace.core import files\n")
    (fake / "world" / "bad.py").write_text("from latentspace.model import hooks\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert upward_imports() == ["world/bad.py:1 (world, on the ground floor only) imports latentspace.model"]


def test_the_model_layer_loads_nothing_above_it():
    every_model_module = "; ".join(f"import latentspace.model.{p.stem}" for p in sorted((SRC / "model").glob("*.py"))
                                   if p.name != "__init__.py")
    loaded = loaded_after(every_model_module)
    above = {m for m in loaded if m.startswith("latentspace.") and LEVEL.get(unit_of(m), 0) > LEVEL["model"]}
    assert "torch" in loaded and sorted(above) == []  # the model layer is really loaded, and alone


def test_the_reason_layer_loads_no_agents():
    loaded = loaded_after("import latentspace.reason")
    assert sorted(m for m in loaded if m.startswith(("latentspace.agents", "latentspace.memory"))) == []
