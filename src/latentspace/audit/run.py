"""`audit`: run the chosen tests on one subject and items, each test on its own (a test that cannot
run on this subject or task is skipped with its reason; the others still run)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from latentspace.audit.decodability import decodability
from latentspace.audit.interchange import interchange
from latentspace.audit.necessity import necessity
from latentspace.audit.ood import ood
from latentspace.audit.probe import probe
from latentspace.audit.record import record
from latentspace.audit.report import AuditReport
from latentspace.audit.saved_probe import probe_layer, saved_probe
from latentspace.audit.steering import STRENGTHS, steering
from latentspace.audit.subject import Subject, accuracy
from latentspace.audit.values import has_values
from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item

TESTS = ("necessity", "decodability", "probe", "interchange", "steer", "ood")
NEEDS_VALUES = {"decodability", "probe", "interchange", "steer"}  # they compare thoughts with the steps


def audit(subject: Subject, items: list[Item], tests=TESTS, ood_items: tuple[str, list[Item]] | None = None,
          seed: int = 0, progress: Callable[[str], None] | None = None, done: AuditReport | None = None,
          saved: Callable[[AuditReport], None] | None = None, reader: tuple | None = None,
          fitted: dict | None = None, lens=None,
          strengths: tuple[float, ...] = STRENGTHS) -> AuditReport:
    """Audit ``subject``'s thoughts on ``items``; ``ood_items`` is (variant name, items) for the shortcut check.

    Resumable: the tests ``done`` holds (an earlier report of the same subject, items and seed) are
    kept, not rerun; ``saved(report)`` is called after every test (write it to disk there).
    ``reader``: a saved probe and its meta (`LinearProbe.load_with_meta`), read at every thought as
    the result "saved probe"; ``fitted`` collects the probe test's step probes (thought -> probe);
    ``lens``: a tuned lens of the subject's model, read by decodability at every layer;
    ``strengths``: the steering test's, in multiples of the thoughts' mean norm."""
    unknown = [t for t in tests if t not in TESTS]
    if unknown:
        raise LatentspaceError(f"unknown audit test {unknown[0]!r}; valid: {', '.join(TESTS)}")
    if not items:
        raise LatentspaceError("an audit needs at least one item")
    key = audit_key(subject, items, seed, strengths)
    if done is not None and done.key != key:
        done = None  # another subject, seed or items: nothing to reuse
    layer = saved_probe_layer(reader)
    started = time.perf_counter()
    deep = [t for t in ("probe", "decodability") if t in tests and not (done and t in done.results)]
    rec = record(subject, items, layers=layer is not None or bool(deep), also=() if layer is None else (layer,))
    report = AuditReport(subject.name, len(items), accuracy(rec.rows), rec.slots, key=key)
    report.seconds["record"] = time.perf_counter() - started  # the intact pass every test starts from
    runs = {"necessity": lambda: necessity(subject, items, rec, seed),
            "decodability": lambda: decodability(subject, items, rec, lens),
            "probe": lambda: probe(items, rec, seed, fitted),
            "interchange": lambda: interchange(subject, items, rec),
            "steer": lambda: steering(subject, items, rec, strengths, seed=seed),
            "ood": lambda: ood(subject, rec, *ood_items)}
    for name in tests:
        if done is not None and name in done.results:
            report.results[name], report.seconds[name] = done.results[name], done.seconds.get(name, 0.0)
            continue
        if progress is not None:
            progress(name)
        reason = why_not(name, rec, items, ood_items)
        if reason:
            report.skipped[name] = reason
            continue
        started = time.perf_counter()
        try:
            report.results[name] = runs[name]()
        except LatentspaceError as err:
            report.skipped[name] = str(err)
        report.seconds[name] = time.perf_counter() - started
        if saved is not None:
            saved(report)
    if reader is not None:
        try:
            report.results["saved probe"] = saved_probe(*reader, items, rec)
        except LatentspaceError as err:
            report.skipped["saved probe"] = str(err)
    return report


def saved_probe_layer(reader: tuple | None) -> int | None:
    """The layer a saved probe reads (None: the thought vectors, or no probe); a probe of a site no
    thought has is kept to be skipped with its reason."""
    if reader is None:
        return None
    try:
        return probe_layer(reader[1])
    except LatentspaceError:
        return None


def audit_key(subject: Subject, items: list[Item], seed: int, strengths=STRENGTHS) -> str:
    """What a resumed report must share with this run (strengths only when not the default: older reports stay valid)."""
    settings = [] if tuple(strengths) == STRENGTHS else [list(strengths)]
    text = json.dumps([subject.name, seed, [[i.question, i.answer, list(i.steps)] for i in items], *settings])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def why_not(name: str, rec, items: list[Item], ood_items) -> str | None:
    if name != "ood" and rec.slots == 0:
        return "the subject thinks no latent thoughts on these items"
    if name in NEEDS_VALUES and not has_values(items):
        return "the items carry no intermediate values (steps) to compare thoughts with"
    if name == "ood" and not ood_items:
        return "no out-of-distribution variant of this task"
    return None
