"""Issue 38's diagnosis table: the `cot2` recipe beside the bare CSFT loop, one change at a time.

Rows come from finished runs — `latentspace train run cot2 --profile laptop-mnns --set select=last`
folders and `benchmarks/mnns_reference_loop.py --json` files — collected into one compact JSON line
each (`benchmarks/results/mnns-diagnosis.jsonl`, kept in the repository; a collect adds or replaces rows, never
drops one), then written as a table
into docs/results.md. Every row is tested at its last epoch; its interval is a bootstrap over the
test split's digit multisets (`core.stats.group_bootstrap`), or Wilson's where a row has no groups.

    python benchmarks/mnns_diagnosis.py --collect runs/i38 --write
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from latentspace.core.stats import group_bootstrap, wilson  # noqa: E402
from latentspace.train.studies.table import test_groups  # noqa: E402

ROWS = ROOT / "benchmarks" / "results" / "mnns-diagnosis.jsonl"
DOCS = ROOT / "docs" / "results.md"
START, END = "<!-- mnns-diagnosis-38:start -->", "<!-- mnns-diagnosis-38:end -->"


def from_loop(path: Path) -> dict:
    found = json.loads(path.read_text())
    paper = found.get("lr") == 1e-4 and found.get("batch") == 16
    change = [k for k, v in (("the authors' lr 1e-4, batch 16, 1000 epochs", paper),
                             ("dropout 0.1", found.get("dropout", 0.1) == 0.1), ("no <bos>", not found.get("bos", True)),
                             ("`###` marker", found.get("marker", False)), ("`<eos>` term", found.get("eos", False)),
                             ("the recipe's vocabulary", found.get("recipe_vocab", False)),
                             ("cosine lr", found.get("cosine", False)),
                             ("digits apart from sums", found.get("split_digits", False)))
              if v]
    return {"arm": "bare loop", "change": ", ".join(change) or "—", "seed": found["seed"],
            "threads": found["threads"], "epochs": found["epochs"], "accuracy": found["test_accuracy"] / 100,
            "n": found["n_test"], "groups": found.get("test_groups"), "seconds": found["seconds"],
            "source": f"mnns_reference_loop.py {path.stem}"}


def from_run(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    options = summary["options"]
    cosine = (summary.get("settings") or {}).get("lr_schedule") == "cosine"
    plain = options.get("answer_marker") is False
    per_step = options.get("thoughts_per_step", 1)
    per_stage = options.get("epochs_per_stage", 100)
    mix = options.get("mix_prob", 0.0)
    change = [k for k, v in (("no `###` (answer after the last thought)", plain), ("cosine lr", cosine),
                             (f"{per_step} thoughts per step", per_step != 1),
                             ("no start/end markers", options.get("latent_markers") is False),
                             (f"{per_stage} epochs per stage", per_stage != 100),
                             ("one optimizer (no reset per stage)", options.get("reset_optimizer") is False),
                             ("thought read at its own slot", options.get("thought_from") == "slot"),
                             (f"earlier stages mixed in (p={mix})", bool(mix)),
                             ("dropout 0.1", (summary.get("settings") or {}).get("dropout", 0) == 0.1),
                             ("`paper-mnns`'s lr 1e-4 and batch 16", summary.get("profile") == "paper-mnns"),
                             (f"{options['epochs']} epochs", options["epochs"] not in (600, 1000))) if v]
    sets = {"answer_marker": "false" if plain else None, "lr_schedule": "cosine" if cosine else None,
            "thoughts_per_step": per_step if per_step != 1 else None,
            "latent_markers": "false" if options.get("latent_markers") is False else None,
            "epochs_per_stage": per_stage if per_stage != 100 else None,
            "reset_optimizer": "false" if options.get("reset_optimizer") is False else None,
            "thought_from": "slot" if options.get("thought_from") == "slot" else None,
            "mix_prob": mix or None,
            "dropout": 0.1 if (summary.get("settings") or {}).get("dropout", 0) == 0.1 else None}
    return {"arm": f"{summary['recipe']} recipe", "change": ", ".join(change) or "—", "seed": summary["seed"], "threads": 1,
            "epochs": options["epochs"], "accuracy": summary["test_accuracy"], "n": summary["test_n"],
            "groups": test_groups(folder), "seconds": round(summary["train_seconds"]),
            "source": f"train run {summary['recipe']} --profile {summary['profile']} --seed {summary['seed']} --set select=last"
                      + "".join(f" --set {k}={v}" for k, v in sets.items() if v is not None)}


def collect(folder: Path) -> list[dict]:
    rows = [from_loop(p) for p in sorted(folder.glob("ref_*.json"))]
    rows += [from_run(p) for pattern in ("cot2_*", "diag_*") for p in sorted(folder.glob(pattern))
             if (p / "summary.json").is_file()]
    return rows


def key(row: dict) -> tuple:
    return row["arm"], row["change"], row["seed"], row.get("threads"), row.get("epochs")


def merge(kept: list[dict], collected: list[dict]) -> list[dict]:
    """``kept`` with each row of ``collected`` added, or in place of the kept row of the same run."""
    fresh = {key(row): row for row in collected}
    return [fresh.pop(key(row), row) for row in kept] + list(fresh.values())


def interval(row: dict) -> tuple[float, float]:
    if row.get("groups"):
        return group_bootstrap([row["groups"]])
    return wilson(round(row["accuracy"] * row["n"]), row["n"])


def table(rows: list[dict]) -> str:
    lines = ["| arm | change | seed | test accuracy, last epoch [95% CI] | multisets | "
             "train s |", "|---|---|---:|---|---:|---:|"]
    for row in sorted(rows, key=lambda r: (r["arm"], r["change"], r["seed"])):
        lo, hi = interval(row)
        kind = f"{len(row['groups'])}" if row.get("groups") else "· (Wilson)"
        lines.append(f"| {row['arm']} | {row['change']} | {row['seed']} | {100 * row['accuracy']:.1f}% "
                     f"[{100 * lo:.1f}, {100 * hi:.1f}] | {kind} | {row['seconds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collect", type=Path, help="a folder of finished runs to (re)collect rows from")
    parser.add_argument("--write", action="store_true", help="write the table into docs/results.md")
    args = parser.parse_args()
    rows = [json.loads(line) for line in ROWS.read_text().splitlines()] if ROWS.is_file() else []
    if args.collect:
        # merge, never replace: run folders do not outlive a machine, the kept rows must
        rows = merge(rows, collect(args.collect))
        ROWS.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = table(rows)
    print(text)
    if args.write:
        docs = DOCS.read_text()
        block = f"{START}\n{text}\n{END}"
        if START in docs:
            docs = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, docs, flags=re.S)
        else:
            docs = docs.replace("<!-- mnns-diagnosis:end -->", "<!-- mnns-diagnosis:end -->\n\n" + block)
        DOCS.write_text(docs)


if __name__ == "__main__":
    main()
