"""The mock's in-memory state: one table module per resource, seeded from a data file.

`Store` loads, resets to and dumps the seed; resource handlers read and change its tables.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

import spec
from mockserver.store.accounts import Accounts, ApiKey
from mockserver.store.baselines import Baselines
from mockserver.store.batch_tests import BatchTests, TestSuites
from mockserver.store.configs import Configs
from mockserver.store.datasets import Datasets
from mockserver.store.deployments import Deployments
from mockserver.store.jobs import Jobs
from mockserver.store.metrics import Metrics
from mockserver.store.predictions import PredictionListener, Predictions
from mockserver.store.table import OWNER, Row, StoreError, columns, component, nullable_columns
from mockserver.store.traces import Traces
from mockserver.wire import MAX_DEPTH, depth

__all__ = ["TABLE_KEYS", "PredictionListener", "Store", "StoreError"]

# Seed keys in load order; `dump` returns them all, `load` accepts any subset.
TABLE_KEYS: tuple[str, ...] = (
    "users",
    "api_keys",
    "jobs",
    "predictions",
    "metrics",
    "logs",
    "job_errors",
    "configs",
    "datasets",
    "baselines",
    "deployments",
    "test_suites",
    "batch_tests",
    "traces",
)


class Store:
    """All mutable state of one mock instance.

    Row columns and seed checks come from the contract's schemas (the bundled spec by default).
    Table objects live as long as the store: `load` and `reset` replace their rows only, so
    subscribers such as `predictions.listeners` stay attached.
    """

    def __init__(self, seed: Mapping[str, Any], contract: spec.Contract | None = None) -> None:
        contract = contract if contract is not None else spec.load()
        self.contract = contract
        _check_depth(seed)
        self._seed = copy.deepcopy(dict(seed))
        schema = {name: component(contract, name) for name in _ROW_SCHEMAS}
        self.accounts = Accounts(next(iter(contract.schemes.carrying("api_key")), None))
        self.jobs = Jobs(columns(schema["Job"]), schema["Job"])
        self.predictions = Predictions(columns(schema["Prediction"]), schema["Prediction"])
        self.metrics = Metrics(columns(schema["MetricPoint"]), schema["MetricPoint"])
        self.configs = Configs(schema["TrainingConfig"])
        self.datasets = Datasets(schema["Dataset"])
        self.baselines = Baselines(schema["Baseline"])
        self.deployments = Deployments()
        self.test_suites = TestSuites()
        self.batch_tests = BatchTests()
        self.traces = Traces(nullable_columns(schema["AnalyticsTraceRow"]), schema["AnalyticsTraceRow"])
        self.load(self._seed)

    @classmethod
    def from_file(cls, path: Path, contract: spec.Contract | None = None) -> Store:
        """A store seeded from a YAML or JSON file."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot read seed data {path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            kind = path.suffix.lstrip(".").upper() or "YAML"
            raise StoreError(f"seed data {path} is not valid {kind}: {exc}") from None
        except RecursionError:
            raise StoreError(f"seed data {path} nests deeper than its parser can read") from None
        if not isinstance(data, dict):
            raise StoreError(f"seed data {path} must be a mapping of table names to rows")
        return cls(data, contract)

    def reset(self) -> None:
        """Back to the seed data."""
        self.load(self._seed)

    def replace(self, tables: Mapping[str, Any]) -> None:
        """Replace the tables named in `tables` and keep the others; nothing changes when the result is invalid.

        The result is checked as a whole: a kept row that names a row the replaced tables no longer
        hold (a prediction of a job that is gone) is a StoreError naming that row.
        """
        if not isinstance(tables, Mapping):
            raise StoreError("data must be a mapping of table names to rows")
        self._check_keys(tables)
        _check_depth(tables)
        self.load({**self.dump(), **tables})

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace all state with `data` (the shape `dump` returns; a table it omits ends up empty).

        Nothing changes when it is invalid.
        """
        if not isinstance(data, Mapping):
            raise StoreError("data must be a mapping of table names to rows")
        self._check_keys(data)
        users, keys = data.get("users", []), data.get("api_keys", [])
        try:
            Accounts(self.accounts.key_scheme).load(users, keys)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"users/api_keys: {exc}") from None
        jobs = self.jobs.check(data.get("jobs", []))
        job_ids = [row["id"] for row in jobs]
        predictions = self.predictions.check(data.get("predictions", []), job_ids)
        metrics = self.metrics.check(data.get("metrics", []), data.get("logs", {}), data.get("job_errors", {}), job_ids)
        tables = [
            (table, table.check(data.get(table.table, [])))
            for table in (
                self.configs,
                self.datasets,
                self.baselines,
                self.deployments,
                self.test_suites,
                self.batch_tests,
                self.traces,
            )
        ]
        # Everything is checked; from here on nothing can fail half-way.
        self.accounts.load(users, keys)
        self.jobs.load(jobs)
        self.predictions.load(predictions)
        self.metrics.load(*metrics)
        for table, rows in tables:
            table.load(rows)

    def identities(self) -> dict[str, Any]:
        """Every user with the credentials they hold, and the demo credentials (those the banner prints).

        Each user's own `api_key`, `session_token`, `job_id` and `job_token` are picked as the demo ones are from
        all users: an active all-scope key (else any active key), the first session token, the token of a
        running job (else of any job with a token). Secrets in full: the admin API shortens them.
        """
        keys = list(self.accounts.keys.values())
        jobs = sorted(
            (r for r in self.jobs.rows.values() if r.get("job_token")), key=lambda r: r.get("status") != "running"
        )
        users = []
        for user_id, user in self.accounts.users.items():
            own_keys = [k for k in keys if k.user_id == user_id]
            own_jobs = [r for r in jobs if r.get(OWNER) == user_id]
            users.append(
                {
                    "user_id": user_id,
                    **_picked(own_keys, self.accounts.sessions_of(user_id), own_jobs),
                    "email": user.get("email"),
                    "name": user.get("name"),
                    "api_keys": [
                        {"key": k.key, "name": k.name, "scopes": sorted(k.scopes), "active": k.active} for k in own_keys
                    ],
                    "session_tokens": self.accounts.sessions_of(user_id),
                    "jobs": [
                        {"job_id": r["id"], "job_token": r["job_token"], "status": r.get("status")} for r in own_jobs
                    ],
                }
            )
        demo = _picked(keys, list(self.accounts.sessions), jobs)
        return {"demo": {"user_id": self._owner(demo), **demo}, "users": users}

    def _owner(self, picked: Mapping[str, Any]) -> str | None:
        """Whose picked credentials these are: the key's owner, else the session's, else the job's."""
        key = self.accounts.api_key(picked["api_key"]) if picked["api_key"] else None
        if key is not None:
            return key.user_id
        session = self.accounts.session_user(picked["session_token"]) if picked["session_token"] else None
        job = self.jobs.get(picked["job_id"]) if picked["job_id"] else None
        return session or (str(job[OWNER]) if job and job.get(OWNER) else None)

    def dump(self) -> dict[str, Any]:
        """All state as plain data, loadable by `load`."""
        users, keys = self.accounts.dump()
        metrics, logs, errors = self.metrics.dump()
        return {
            "users": users,
            "api_keys": keys,
            "jobs": self.jobs.dump(),
            "predictions": self.predictions.dump(),
            "metrics": metrics,
            "logs": logs,
            "job_errors": errors,
            "configs": self.configs.dump(),
            "datasets": self.datasets.dump(),
            "baselines": self.baselines.dump(),
            "deployments": self.deployments.dump(),
            "test_suites": self.test_suites.dump(),
            "batch_tests": self.batch_tests.dump(),
            "traces": self.traces.dump(),
        }

    @staticmethod
    def _check_keys(data: Mapping[str, Any]) -> None:
        unknown = set(data) - set(TABLE_KEYS)
        if unknown:
            raise StoreError(f"unknown tables in data: {', '.join(sorted(unknown))} (tables: {', '.join(TABLE_KEYS)})")


def _check_depth(data: Mapping[str, Any]) -> None:
    """StoreError naming the table whose values nest deeper than a request may send (`MAX_DEPTH`).

    Every copy and dump of the store recurses; what the store holds is kept within reach of them.
    """
    if not isinstance(data, Mapping):
        return
    for name, rows in data.items():
        # A table is a list of rows (or, for logs and errors, an object of lists): two levels above the values.
        if depth(rows) > MAX_DEPTH + 2:
            raise StoreError(f"{name}: values nest arrays and objects more than {MAX_DEPTH} levels deep")


# The spec's schema of each table's row: seed rows are checked against it, columns come from it.
_ROW_SCHEMAS = ("Job", "Prediction", "MetricPoint", "TrainingConfig", "Dataset", "Baseline", "AnalyticsTraceRow")


def _picked(keys: list[ApiKey], sessions: list[str], jobs: list[Row]) -> dict[str, Any]:
    """The credentials a caller is given: an all-scope key (else any active one), a session token and a job token
    (`jobs` come running ones first)."""
    active = [k for k in keys if k.active]
    key = next((k for k in active if k.all_scopes), active[0] if active else None)
    session = sessions[0] if sessions else None
    job = jobs[0] if jobs else None
    return {
        "api_key": key.key if key else None,
        "session_token": session,
        "job_id": str(job["id"]) if job else None,
        "job_token": str(job["job_token"]) if job else None,
    }
