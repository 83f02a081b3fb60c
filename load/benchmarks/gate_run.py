"""Wall time and request count of the gate's default run against the embedded mock, beside a 5-example reference.

Runs `python -m contracts --seed S --quiet [--max-examples N]` in fresh interpreters, alternating the default
and the reference so that machine load hits both alike, and prints medians and the ratio.
Usage: python -m load.benchmarks.gate_run [--runs N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from load.benchmarks.spec_load import cpu_model

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_EXAMPLES = "5"
LAST_LINE = re.compile(r"(\d+) requests in")


def one_run(seed: int, max_examples: str | None) -> tuple[float, int, int]:
    """(wall seconds, requests, exit code) of one gate run."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FTL_")}
    command = [sys.executable, "-m", "contracts", "--seed", str(seed), "--quiet"]
    if max_examples is not None:
        command += ["--max-examples", max_examples]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    found = LAST_LINE.search(done.stdout)
    return wall, int(found.group(1)) if found else -1, done.returncode


def main() -> None:
    """Run the series and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    series: dict[str, list[tuple[float, int, int]]] = {"default (50)": [], f"reference ({REFERENCE_EXAMPLES})": []}
    for _ in range(args.runs):
        series["default (50)"].append(one_run(args.seed, None))
        series[f"reference ({REFERENCE_EXAMPLES})"].append(one_run(args.seed, REFERENCE_EXAMPLES))
    print(f"nproc={os.cpu_count()}, {cpu_model()}, load average {os.getloadavg()[0]:.1f}, {args.runs} runs each")
    reference = statistics.median(wall for wall, _, _ in series[f"reference ({REFERENCE_EXAMPLES})"])
    print("| `--max-examples` | wall time (median, range) | requests (median) | exit codes | time / reference |")
    print("|---|---:|---:|---|---:|")
    for name, runs in series.items():
        walls = [wall for wall, _, _ in runs]
        median = statistics.median(walls)
        requests = int(statistics.median(count for _, count, _ in runs))
        codes = ",".join(str(code) for _, _, code in runs)
        print(
            f"| {name} | {median:.1f} s ({min(walls):.1f}-{max(walls):.1f}) | {requests:,} | {codes} "
            f"| {median / reference:.2f}x |"
        )


if __name__ == "__main__":
    main()
