"""Search over continuous thoughts: draw N thought paths per question, then select an answer.

    loaded = load_run(Path("runs/table-mnns-laptop-mnns/s0/cot2"))
    paths = sample_paths(loaded, items, parse_sampler("mts:4"), n=16, seed=0)
    report = search_report(paths, sizes=(4, 16))      # greedy, pass@N, vote@N with intervals

Sampling itself lives in the one thought loop (`latentspace.model.samplers`); this package sits above
`train` and `reason` and composes them: paths, selectors (one per file), the report.
"""

from latentspace.search.paths import SampledPaths, sample_paths
from latentspace.search.report import search_report
from latentspace.search.selectors import SELECTORS, majority, select

__all__ = ["SELECTORS", "SampledPaths", "majority", "sample_paths", "search_report", "select"]
