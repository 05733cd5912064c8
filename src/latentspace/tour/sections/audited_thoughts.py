"""Tour: audit the thoughts of the model the previous section trained — are they needed, do they
hold the values, do they cause the answer? (`latentspace audit`, three of its six tests)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def audited_thoughts(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.audit import audit
    from latentspace.audit.pages import curves
    from latentspace.tasks import load_jsonl
    from latentspace.tour.sections.trained_thoughts import tour_model
    from latentspace.train.studies.auditable import TrainedSubject

    folder, _, _, _ = tour_model(lm, out)  # trained already when the tour ran the previous section
    items = load_jsonl(folder / "data" / "test.jsonl")[:200]
    report = audit(TrainedSubject(folder), items, ["necessity", "decodability", "interchange"])
    (out / "audit").mkdir(exist_ok=True)
    images = curves(report, out / "audit")
    nec, dec = report.results["necessity"], {r["thought"]: r for r in report.results["decodability"]}
    swap = {r["thought"]: r for r in report.results["interchange"]}
    rows = [{"thought": t + 1, "accuracy when cut after it": round(nec["cut"][t + 1]["accuracy"], 3),
             "accuracy with it replaced by its mean": round(nec["mean"][t]["accuracy"], 3),
             "gold value top-3 (right / wrong answers)": f"{fmt(dec[t + 1]['top3_correct'])} / "
                                                         f"{fmt(dec[t + 1]['top3_wrong'])}",
             "answer follows a counterfactual's thought": fmt(swap[t + 1].get("follows"))}
            for t in range(report.thoughts)]
    text = (f"The thoughts of that model, audited on {report.n} held-out problems (intact accuracy "
            f"{100 * report.accuracy:.1f}%): with every thought cut it scores {100 * nec['cut'][0]['accuracy']:.1f}%, "
            "so the thoughts are needed; each one holds the step's partial sums (read through the lens), and "
            "patching one from another problem moves the answer. `latentspace audit -m RUN --out DIR` runs all "
            "six tests (also probes, steering sensitivity and a shortcut check) on any trained run or strategy.")
    return SectionResult("Auditing latent thoughts", text, rows, images, data=report.to_dict())


def fmt(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"
