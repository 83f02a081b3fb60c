"""The one run pipeline under `compare` and `capacity`: a target, then for each step its jobs, plan and Locust run.

A step is one headless Locust run of one scenario's plan. Every step is measured the same way (Locust's
entries; from an ftl-mock's metrics its requests, CPU time, open streams and Phase 5 stream figures), and each
command writes its reports here. A scenario runs against its contract design: consecutive steps of one design share
a target, and a mock started here serves that design (`ftl-mock --design`); a given `--target` serves one design
for every step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spec
from load.errors import LoadError
from load.plan import Plan, build_plan
from load.results import Entry, read_entries
from load.runner import LocustRun, child_env, run_locust, tail
from load.tab import Tab
from load.target import StreamSampler, Target, create_jobs, start_mock
from load.workload import Workload

STARTED_MOCK = "ftl-mock (started by ftl-load)"
CHART_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TargetOptions:
    """Where to send load: a given URL (with its pid, if local) or, when None, an ftl-mock started here."""

    url: str | None = None
    pid: int | None = None
    api_key: str | None = None
    session_token: str | None = None
    request_timeout: float = 30.0


@dataclass(frozen=True)
class RunOptions:
    """How Locust runs: local workers (0 = one local runner), its web UI (None: headless), where reports go."""

    out: Path
    workers: int = 0
    web_port: int | None = None
    web_hold_s: float = 0.0


@dataclass(frozen=True)
class Step:
    """One Locust run: its name (the stem of its files), the scenario its tabs play, the workload, its jobs' tag."""

    name: str
    scenario: type[Tab]
    workload: Workload
    jobs_tag: str
    refetch: bool = True

    @property
    def design(self) -> str | None:
        """The contract design its target must serve."""
        return self.scenario.design


@dataclass(frozen=True)
class Measured:
    """What one step gave: its plan, Locust's entries, the server's figures, the Locust run (for its files)."""

    plan: Plan
    entries: list[Entry]
    server_cpu_s: float | None
    server_requests: int | None
    peak_open_streams: int | None
    wall_s: float
    locust: LocustRun
    server: dict[str, Any] | None = None
    """An ftl-mock's own figures of the step (`ServerMetrics.since`), None for another target."""


@contextmanager
def open_target(options: TargetOptions, time_scale: float, out: Path, design: str | None = None) -> Iterator[Target]:
    """The target for a run (a started mock serves `design`); a started mock is stopped afterwards."""
    if options.url is None:
        log = out / (f"ftl-mock-{design}.log" if design else "ftl-mock.log")
        target = start_mock(time_scale, log, design)
        if options.api_key:
            target.api_key = options.api_key
        if options.session_token:
            target.session_token = options.session_token
    else:
        if not options.api_key or not options.session_token:
            raise LoadError("--target needs --api-key and --session (the dashboard user's credentials)")
        target = Target(options.url.rstrip("/"), options.api_key, options.session_token, options.pid)
    target.request_timeout = options.request_timeout
    try:
        target.check()
        yield target
    finally:
        target.stop()


def run_steps(
    command: str,
    steps: Sequence[Step],
    target_options: TargetOptions,
    run: RunOptions,
    *,
    time_scale: float,
    sample_interval_s: float = 0.5,
) -> list[Measured]:
    """Every step in order, each group of one design against its target; job ids are `<command>-<run id>-<tag>-NNNN`."""
    run.out.mkdir(parents=True, exist_ok=True)
    prefix = f"{command}-{time.strftime('%Y%m%d%H%M%S')}"
    groups = design_groups(steps)
    if target_options.url is not None and len({design for design, _ in groups}) > 1:
        shown = ", ".join(sorted(str(design or "the base contract") for design, _ in groups))
        raise LoadError(f"--target serves one contract, but these scenarios need several designs: {shown}")
    measured = []
    for design, group in groups:
        contract = load_design(design)
        with open_target(target_options, time_scale, run.out, design) as target:
            for step in group:
                measured.append(measure(target, contract, step, run, f"{prefix}-{step.jobs_tag}", sample_interval_s))
    return measured


def design_groups(steps: Sequence[Step]) -> list[tuple[str | None, list[Step]]]:
    """Consecutive steps of one design, together, in order."""
    groups: list[tuple[str | None, list[Step]]] = []
    for step in steps:
        if groups and groups[-1][0] == step.design:
            groups[-1][1].append(step)
        else:
            groups.append((step.design, [step]))
    return groups


def load_design(design: str | None) -> spec.Contract:
    """The contract of a design (the base contract for None); LoadError with the spec's reason."""
    try:
        return spec.load(design=design)
    except spec.SpecError as exc:
        raise LoadError(f"design {design}: {exc}") from None


def measure(
    target: Target, contract: spec.Contract, step: Step, run: RunOptions, jobs_prefix: str, sample_interval_s: float
) -> Measured:
    """One step: its own jobs, its plan (written as `<name>-plan.json`), its Locust run and the server's figures."""
    jobs = create_jobs(target, contract, jobs_prefix, step.workload.jobs)
    plan = build_plan(contract, step.scenario.name, step.workload, jobs, target.session_token, refetch=step.refetch)
    plan_path = run.out / f"{step.name}-plan.json"
    plan_path.write_text(json.dumps(plan.to_dict(), indent=1), encoding="utf-8")
    locust_run = LocustRun(
        name=step.name,
        out_dir=run.out,
        host=target.url,
        plan=plan_path,
        users=plan.users,
        run_time_s=plan.run_time_s,
        workers=run.workers,
        web_port=run.web_port,
        web_hold_s=run.web_hold_s,
    )
    metrics_before = target.metrics()
    cpu_before, served_before = target.cpu_seconds(), target.requests_served()
    started = time.monotonic()
    with StreamSampler(target, interval_s=sample_interval_s) as sampler:
        stats_json = run_locust(locust_run)
    wall = time.monotonic() - started
    metrics_after = target.settled() if metrics_before is not None else None
    cpu_after, served_after = target.cpu_seconds(), target.requests_served()
    server = metrics_after.since(metrics_before, wall) if metrics_before and metrics_after else None
    return Measured(
        plan=plan,
        entries=read_entries(stats_json),
        server_cpu_s=server["cpu_s"] if server else difference(cpu_before, cpu_after),
        # The server's own count of the requests it answered, to hold against the client's.
        server_requests=server["requests_total"] if server else difference(served_before, served_after),
        peak_open_streams=sampler.peak,
        wall_s=wall,
        locust=locust_run,
        server=server,
    )


def difference(before: Any, after: Any) -> Any:
    """after - before, or None when either is unknown."""
    return None if before is None or after is None else after - before


def write_reports(out: Path, stem: str, result: dict[str, Any], text: str, *, chart: bool) -> None:
    """`<stem>.json`, `<stem>.md` and, with `chart`, `<stem>.png` (load.charts' chart of that name) under `out`."""
    source = out / f"{stem}.json"
    source.write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    if chart:
        draw(stem, source, out / f"{stem}.png")


def draw(chart: str, source: Path, png: Path) -> None:
    """Draw a chart of a result file in a child process, as Locust runs in its own: matplotlib stays out of here."""
    log = png.with_suffix(".log")
    command = [sys.executable, "-m", "load.charts", chart, str(source), str(png)]
    with log.open("w", encoding="utf-8") as output:
        try:
            code = subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, env=child_env(), timeout=CHART_TIMEOUT_S, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise LoadError(f"drawing {png.name} took over {CHART_TIMEOUT_S:g} s; see {log}") from None
    if code != 0:
        raise LoadError(f"could not draw {png.name} (exit {code}); see {log}: {tail(log)}")
    log.unlink()


def target_label(options: TargetOptions) -> str:
    """How the reports name the target."""
    return options.url or STARTED_MOCK
