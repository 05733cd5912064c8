"""Audit latent thoughts: is each one needed, what does it encode, what does it cause?

    from latentspace.audit import audit
    report = audit(subject, items)          # a subject: see `latentspace.audit.subject`
    print(report.markdown())

One file per test: necessity, decodability, probe, interchange, steering (sensitivity), ood.
"""

from latentspace.audit.report import AuditReport
from latentspace.audit.run import TESTS, audit
from latentspace.audit.subject import Subject

__all__ = ["TESTS", "AuditReport", "Subject", "audit"]
