"""Every registry's names as plain tuples, importable without torch: what the CLI's help and the
server's schema descriptions list (`latentspace --help` loads no model code, so it cannot ask the
registries themselves).

The registries stay the truth: tests/test_names.py checks each tuple against the registry it
mirrors, so a strategy, press, recipe, task, ... registered but not listed here fails there.
This package imports nothing; only the entry points above the registries (serve, bench, cli) use it.
"""

from __future__ import annotations

# latentspace.reason.REGISTRY (training-free reasoning strategies)
STRATEGIES = ("direct", "cot", "continuous", "soft", "pause", "loop", "switch", "optimize")
# latentspace.agents.pipelines.BUILTIN and .MODES (a strategy ``agents:PIPELINE[:MODE]``)
PIPELINES = ("sequential", "hierarchical")
PIPELINE_MODES = ("latent", "text", "single")
# latentspace.memory.presses.PRESSES; the wrappers take other presses, so only Python builds them
PRESSES = ("knorm", "keydiff", "streaming", "snapkv", "tova", "h2o", "expected_attention", "surprisal", "probe",
           "chunked", "per_layer")
PRESS_WRAPPERS = ("chunked", "per_layer")
# latentspace.train.recipes.RECIPES and latentspace.train.profiles.PROFILES
RECIPES = ("cot", "nocot", "coconut", "cot2", "pause", "icot", "codi", "visual", "visual-pause", "visual-s1", "visual-change",
           "visual-filled")
PROFILES = ("smoke", "english-small", "laptop-mnns", "laptop-mnns-d24", "laptop-mnns-d16", "paper-mnns", "smoke-mnns", "laptop-vsp",
            "smoke-vsp", "laptop-prosqa",
            "laptop-prosqa-15k", "paper-prosqa", "smoke-prosqa", "full", "full-scratch")
# latentspace.tasks.TASKS
TASKS = ("arithmetic", "prontoqa", "prosqa", "prosqa-small", "multiplication", "mnns", "prosqa-sym",
         "prosqa-sym-relabel", "vsp", "vsp-read", "vsp-ood")
# latentspace.steer.METHODS, latentspace.bridge.METHODS, latentspace.audit.TESTS, latentspace.world.planning.METHODS
STEER_METHODS = ("mean_diff", "pca_diff", "pca_center", "logistic")
BRIDGE_METHODS = ("ridge", "affine", "procrustes")
AUDIT_TESTS = ("necessity", "decodability", "probe", "interchange", "steer", "ood")
PLANNERS = ("mppi", "cem")


def listed(names, last: str = "or") -> str:
    """``a, b, c or d`` (help text)."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def press_names() -> tuple[str, ...]:
    """The presses a name alone builds (``--press NAME``, a request's ``press``)."""
    return tuple(name for name in PRESSES if name not in PRESS_WRAPPERS)
SAMPLERS = ("mts", "noise", "gumbel", "dirichlet", "dropout")  # what makes a continuous thought random (name:VALUE)
SELECTORS = ("pass", "vote", "rm")  # picking an answer among sampled thought paths (greedy is always reported)
