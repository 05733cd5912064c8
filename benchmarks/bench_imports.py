"""The light CLI (issue 21): `latentspace --help` and the model layer's imports, before vs after.

Extracts ``--before REV``'s src/ into a temporary folder (git state untouched) and measures it and
the working tree in the same run, alternating: the wall time of `latentspace --help` in a fresh
interpreter (median of --n runs after one warm-up), whether that run loaded torch, and how many
modules three imports of the model layer leave in sys.modules.

    .venv/bin/python benchmarks/bench_imports.py              # print the table only
    .venv/bin/python benchmarks/bench_imports.py --write      # also into docs/results.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import replace_section  # benchmarks/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]
HELP = "from latentspace.cli.app import main; import sys; sys.argv=['latentspace','--help']; main()"
# the same run, telling on its way out whether torch was imported
HELP_TELLS_TORCH = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
                    "'\\ntorch-loaded=%s\\n' % ('torch' in sys.modules))); " + HELP)
IMPORTS = {
    "modules after `import latentspace.model`": "import latentspace.model",
    "modules after `from latentspace.model import LatentModel`": "from latentspace.model import LatentModel",
    "modules after `import latentspace.model.latent_model`": "import latentspace.model.latent_model",
}
# the model layer's own weight: latentspace modules it loads, and those of packages above it
OWN = "import latentspace.model.latent_model"
ABOVE = ("latentspace.lens", "latentspace.reason", "latentspace.steer", "latentspace.memory", "latentspace.agents",
         "latentspace.audit", "latentspace.train", "latentspace.serve", "latentspace.bench", "latentspace.cli",
         "latentspace.tour")
START, END = "<!-- bench_imports:start -->", "<!-- bench_imports:end -->"


def python(code: str, src: Path) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that imports latentspace from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{src}: {code!r} failed (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return out


def help_seconds(src: Path) -> float:
    started = time.perf_counter()
    python(HELP, src)
    return time.perf_counter() - started


def module_count(statement: str, src: Path) -> int:
    return int(python(f"import sys; {statement}; print(len(sys.modules))", src).stdout.split()[-1])


def own_modules(src: Path) -> tuple[int, int]:
    """(latentspace modules, of them in packages above the model layer) after `OWN`."""
    code = (f"import sys; {OWN}; own = [m for m in sys.modules if m.startswith('latentspace.')]; "
            f"print(len(own), sum(m.startswith({ABOVE!r}) for m in own))")
    own, above = python(code, src).stdout.split()[-2:]
    return int(own), int(above)


def extract(rev: str, into: Path) -> Path:
    """``rev``'s src/ under ``into`` (git archive reads the object store; the index and tree stay as they are)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def measure(trees: dict[str, Path], n: int) -> dict[str, dict]:
    times: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(n + 1):  # alternating, so a machine that speeds up or slows down hits both alike
        for name, src in trees.items():
            seconds = help_seconds(src)
            if round_:  # the first run of each warms the disk cache and .pyc files
                times[name].append(seconds)
    results = {}
    for name, src in trees.items():
        told = python(HELP_TELLS_TORCH, src).stderr
        own, above = own_modules(src)
        results[name] = {"help": statistics.median(times[name]), "torch": "torch-loaded=True" in told,
                         **{label: module_count(statement, src) for label, statement in IMPORTS.items()},
                         "own": own, "above": above}
    return results


def ratio(before: float, after: float) -> str:
    return f"{before / after:.1f}×" if after else "-"


def table(results: dict[str, dict], before_label: str, n: int) -> list[str]:
    before, after = results["before"], results["after"]
    rows = [
        f"| `latentspace --help`, median of {n} (s) | {before['help']:.2f} | {after['help']:.2f} | "
        f"{ratio(before['help'], after['help'])} |",
        f"| torch loaded by `--help` | {'yes' if before['torch'] else 'no'} | {'yes' if after['torch'] else 'no'} | |",
        *(f"| {label} | {before[label]} | {after[label]} | {ratio(before[label], after[label])} |" for label in IMPORTS),
        f"| latentspace modules after `{OWN}` | {before['own']} | {after['own']} | {ratio(before['own'], after['own'])} |",
        f"| ... of them above the model layer (lens, reason, memory, agents, ...) | {before['above']} | "
        f"{after['above']} | |",
    ]
    return [f"| measure | before ({before_label}) | after (working tree) | before ÷ after |", "|---|---:|---:|---:|", *rows]


def working_tree_label() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    # GIT_OPTIONAL_LOCKS=0: status reads the index without refreshing it on disk
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True,
                           text=True, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes in src/" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="e2da925", help="the git revision to compare against")
    parser.add_argument("--n", type=int, default=5, help="timed --help runs per tree (after one warm-up)")
    parser.add_argument("--write", action="store_true", help="also write the section into docs/results.md")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        trees = {"before": extract(args.before, Path(tmp)), "after": ROOT / "src"}
        results = measure(trees, args.n)
    command = f"`.venv/bin/python benchmarks/bench_imports.py --before {args.before} --n {args.n} --write`"
    text = "\n".join([
        "## Light CLI and the model layer's imports (issue 21)", "",
        f"{datetime.date.today().isoformat()}, CPU ({platform.machine()}, {os.cpu_count()} cores), Python "
        f"{platform.python_version()}; after = {working_tree_label()}. Command: {command}. "
        f"Wall time of `python -c \"{HELP}\"` in a fresh interpreter, both trees in the same run, alternating, "
        "the first run of each discarded; module counts are `len(sys.modules)` in a fresh interpreter.", "",
        *table(results, args.before, args.n), ""])
    print(text)
    if args.write:
        replace_section(f"{START}\n{text}{END}", START, END)


if __name__ == "__main__":
    main()
