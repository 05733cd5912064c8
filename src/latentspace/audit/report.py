"""An audit's result: per test its per-thought numbers, and which tests were skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AuditReport:
    subject: str
    n: int
    accuracy: float  # the intact run's
    thoughts: int  # the most thoughts any item got
    results: dict = field(default_factory=dict)  # test name -> its numbers
    skipped: dict = field(default_factory=dict)  # test name -> the one-line reason
    seconds: dict = field(default_factory=dict)  # test name -> wall time
    key: str = ""  # what was audited (subject, seed, items): a rerun reuses only a report of the same key

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> AuditReport:
        return cls(**{k: data[k] for k in ("subject", "n", "accuracy", "thoughts", "results", "skipped", "seconds",
                                           "key")})

    def markdown(self) -> str:
        """The report as markdown tables (what docs/results.md and the HTML report show)."""
        lines = [f"Audit of `{self.subject}`: {self.n} items, intact accuracy {100 * self.accuracy:.1f}%, "
                 f"{self.thoughts} thoughts.", ""]
        for name, rows in self.results.items():
            lines += [f"**{name}** ({self.seconds.get(name, 0):.0f} s)", "", *table(rows), ""]
        for name, why in self.skipped.items():
            lines.append(f"- {name}: skipped — {why}")
        return "\n".join(lines).rstrip() + "\n"


def table(rows) -> list[str]:
    if isinstance(rows, dict):
        rows = flatten(rows)
    if not rows:
        return ["(no rows)"]
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            *("| " + " | ".join(cell(row.get(k)) for k in keys) + " |" for row in rows)]


def flatten(result: dict) -> list[dict]:
    """Necessity's nested result (intact, cut[k], mean[t], noise[t], shuffle) as one row per variant."""
    if "cut" not in result:
        return [result]
    rows = [{"variant": "intact", "accuracy": result["intact"]}]
    rows += [{"variant": f"cut after {r['k']}", **{k: v for k, v in r.items() if k != "k"}} for r in result["cut"]]
    for kind in ("mean", "noise"):
        rows += [{"variant": f"thought {r['thought']} → {kind}", **{k: v for k, v in r.items() if k != "thought"}}
                 for r in result[kind]]
    if result.get("shuffle"):
        rows.append({"variant": "shuffled order", **result["shuffle"]})
    return rows


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):  # e.g. a probe's gap per layer: "0:0.12 1:0.40"
        return " ".join(f"{k}:{cell(v)}" for k, v in value.items())
    return str(value)
