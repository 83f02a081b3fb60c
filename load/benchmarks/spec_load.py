"""How long a CLI call pays to load the contract, against parsing the YAML alone.

Runs each variant in a fresh interpreter several times and prints the medians and ratios.
Usage: python -m load.benchmarks.spec_load [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "openapi.yaml"

VARIANTS = {
    "interpreter start (python -c pass)": "pass",
    "YAML parse only (reference)": f"import yaml; yaml.load(open({str(SPEC)!r}), Loader=yaml.CSafeLoader)",
    "spec.load(), warm cache": "import spec; spec.load()",
    "spec.load(), cold cache (full OpenAPI 3.2 validation)": "import spec; spec.load()",
}


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_once(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    warm = tempfile.mkdtemp(prefix="ftl-cache-")
    base_env = {**os.environ, "FTL_CACHE_DIR": warm}
    run_once(VARIANTS["spec.load(), warm cache"], base_env)
    medians: dict[str, float] = {}
    for name, code in VARIANTS.items():
        times = []
        for _ in range(args.runs):
            env = base_env if "cold" not in name else {**os.environ, "FTL_CACHE_DIR": tempfile.mkdtemp()}
            times.append(run_once(code, env))
        medians[name] = statistics.median(times)
    reference = medians["YAML parse only (reference)"]
    print(f"machine: nproc={os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}")
    print(f"runs per variant: {args.runs}; wall time of a fresh interpreter, median\n")
    print("| variant | median (s) | ratio to YAML parse |")
    print("|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.3f} | {value / reference:.2f}x |")


if __name__ == "__main__":
    main()
