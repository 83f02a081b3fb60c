"""Wall time of `ftl-gate client` through every case, per client, beside a client that exits at once.

Runs `python -m contracts client --run CLIENT --quiet` in fresh interpreters, the clients in turn within each
round so that machine load hits all alike, and prints medians and the ratio to the reference (`true`: the
harness alone, starting the mock, a job per case, each case's set-up and tear-down).
Usage: python -m load.benchmarks.client_run [--runs N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from load.benchmarks.spec_load import cpu_model

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ROOT / "contracts" / "client" / "adapters"
REFERENCE = "reference: `true` (exits at once)"
LAST_LINE = re.compile(r"(\d+) cases, (\d+) connections")


def clients() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Name -> (command, extra flags) of each measured client; node ones only where node is installed."""
    found = {
        "httpx-sse reference": (f"{sys.executable} -m contracts.client.adapters.httpx_sse_client", ()),
        "httpx-sse reference, --parallel 1": (
            f"{sys.executable} -m contracts.client.adapters.httpx_sse_client",
            ("--parallel", "1"),
        ),
    }
    if shutil.which("node"):
        found["Node fetch reference"] = (f"node {ADAPTERS / 'fetch_client.mjs'}", ())
        found["naive hook"] = (f"node {ADAPTERS / 'naive_hook_client.mjs'}", ())
    found[REFERENCE] = ("true", ())
    return found


def one_run(command: str, flags: tuple[str, ...]) -> tuple[float, int, int]:
    """(wall seconds, connections, exit code) of one run through every case."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FTL_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "contracts", "client", "--run", command, "--quiet", *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    found = LAST_LINE.search(done.stdout)
    return wall, int(found.group(2)) if found else 0, done.returncode


def main() -> None:
    """Run the series and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    measured = clients()
    series: dict[str, list[tuple[float, int, int]]] = {name: [] for name in measured}
    for _ in range(args.runs):
        for name, (command, flags) in measured.items():
            series[name].append(one_run(command, flags))
    cases = len(list((ROOT / "spec" / "scenarios").glob("*.yaml")))
    load = os.getloadavg()[0]
    print(f"nproc={os.cpu_count()}, {cpu_model()}, load average {load:.1f}, {cases} cases, {args.runs} runs each")
    reference = statistics.median(wall for wall, _, _ in series[REFERENCE])
    print("| client | wall time (median, range) | connections (median) | exit codes | time / reference |")
    print("|---|---:|---:|---|---:|")
    for name, runs in series.items():
        walls = [wall for wall, _, _ in runs]
        median = statistics.median(walls)
        connections = int(statistics.median(count for _, count, _ in runs))
        codes = ",".join(str(code) for _, _, code in runs)
        print(
            f"| {name} | {median:.1f} s ({min(walls):.1f}-{max(walls):.1f}) | {connections} | {codes} "
            f"| {median / reference:.2f}x |"
        )


if __name__ == "__main__":
    main()
