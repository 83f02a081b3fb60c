"""SDK conformance: check what an SDK sends and returns against the contract, and what it covers.

`ftl-gate sdk` runs an SDK's own command or a conformance manifest against a fresh ftl-mock.
"""

from __future__ import annotations

from contracts.sdk.findings import Finding, Severity
from contracts.sdk.journal_check import JournalChecker, JournalEntry, KnownCredentials
from contracts.sdk.manifest import Manifest, ManifestError
from contracts.sdk.manifest import load as load_manifest

__all__ = [
    "Finding",
    "JournalChecker",
    "JournalEntry",
    "KnownCredentials",
    "Manifest",
    "ManifestError",
    "Severity",
    "load_manifest",
]
