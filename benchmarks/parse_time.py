"""Parse time of the workflow: how long `snakemake -n` takes on the embedded default and on
config/paper.yaml, split into interpreter + Snakemake start-up (`snakemake --version`), parsing the
Snakefile with its config (`snakemake --list-rules`) and the dry run (parse + DAG); wall and CPU
seconds over --repeats fresh processes, each in an empty working folder. Every run has its sockets
refused (connect, getaddrinfo): one that reached for the network would fail, so a recorded result
also says that parsing downloads nothing once MEN is available (EXPERTALIGN_MEN_DIR, or the cache).

    EXPERTALIGN_MEN_DIR=../shared/data/MEN python benchmarks/parse_time.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from expertalign.workflow import write_json

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"default": None, "paper": REPO / "config" / "paper.yaml"}
# Runs Snakemake's command line with every socket connection and name lookup refused.
OFFLINE_SNAKEMAKE = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access while parsing the workflow: %r" % (args,))
socket.socket.connect = socket.socket.connect_ex = socket.getaddrinfo = socket.create_connection = refuse
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""
TOTAL_JOBS = re.compile(r"^total\s+(\d+)\s*$", re.MULTILINE)


def offline_snakemake(args: list[str], workdir: str) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and output of one `snakemake ARGS` process with the
    network refused. CPU seconds hardly grow when other jobs share the cores; wall seconds do."""
    command = [sys.executable, "-c", OFFLINE_SNAKEMAKE, *args]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout + result.stderr


def measure(configfile: Path | None, repeats: int) -> dict:
    """Wall and CPU seconds (median and min over ``repeats``) of start-up, parse and dry run for one
    config; parse only (parse - start-up) and DAG (dry run - parse) are differences within a repeat."""
    base = ["--snakefile", str(REPO / "Snakefile")] + (["--configfile", str(configfile)] if configfile else [])
    steps = {"startup": ["--version"], "parse": [*base, "--list-rules"],
             "dry_run": [*base, "-n", "--quiet", "rules", "host"]}
    seconds = {(step, clock): [] for step in [*steps, "parse_only", "dag"] for clock in ("wall", "cpu")}
    jobs = None
    for _ in range(repeats):
        for step, args in steps.items():
            with tempfile.TemporaryDirectory(prefix="expertalign-parse-") as workdir:
                wall, cpu, output = offline_snakemake(args, workdir)
            seconds[step, "wall"].append(wall)
            seconds[step, "cpu"].append(cpu)
        for clock in ("wall", "cpu"):
            seconds["parse_only", clock].append(seconds["parse", clock][-1] - seconds["startup", clock][-1])
            seconds["dag", clock].append(seconds["dry_run", clock][-1] - seconds["parse", clock][-1])
        jobs = int(TOTAL_JOBS.findall(output)[-1])
    result: dict = {"jobs": jobs}
    for (step, clock), values in seconds.items():
        result.setdefault(step, {}).update({f"{clock}_median_s": statistics.median(values), f"{clock}_min_s": min(values)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/parse_time.json")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    load_before = os.getloadavg()[0]
    configs = {name: measure(path, args.repeats) for name, path in CONFIGS.items()}
    result = {
        "benchmark": "parse_time", "cpu_count": os.cpu_count(), "repeats": args.repeats,
        "snakemake": version("snakemake"), "network": "refused; no run reached for it",
        "men": "EXPERTALIGN_MEN_DIR" if os.environ.get("EXPERTALIGN_MEN_DIR") else "download cache", "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0], "configs": configs,
    }
    write_json(result, args.out)
    print(json.dumps(configs, indent=1))


if __name__ == "__main__":
    main()
