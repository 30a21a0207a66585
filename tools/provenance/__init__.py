"""Provenance of input images: C2PA manifests read and validated before a face tool runs.

Behind the optional extra ``facegate[provenance]``. Importing this package loads pydantic models only; the C2PA
library is imported on the first check (and, without the extra, a check reports ``not_checked`` or raises
:class:`tools.errors.ProvenanceUnavailable` when a purpose requires it). The test chain and signing helpers live
in :mod:`tools.provenance.testchain` and are imported only by whoever needs them.
"""

from tools.provenance.checker import INSTALL_HINT, ProvenanceChecker, c2pa_installed, read_trust_anchors, sniff_mime
from tools.provenance.describe import liveness_statement, provenance_statement
from tools.provenance.models import (
    LIVENESS_LABEL,
    LivenessAssertion,
    ProvenanceReport,
    ProvenanceState,
    SignerInfo,
)

__all__ = [
    "INSTALL_HINT",
    "LIVENESS_LABEL",
    "LivenessAssertion",
    "ProvenanceChecker",
    "ProvenanceReport",
    "ProvenanceState",
    "SignerInfo",
    "c2pa_installed",
    "liveness_statement",
    "provenance_statement",
    "read_trust_anchors",
    "sniff_mime",
]
