"""The README's main job, timed: the embedded default (config.yaml) end to end from an empty folder.

Runs ``snakemake --cores N`` on the repository's Snakefile and config.yaml in a new working
folder (nothing reused from an earlier run), then records the wall time, the jobs per rule with
their summed and longest seconds (from Snakemake's log), and the load average before and after.
MEN comes from EXPERTALIGN_MEN_DIR (or config.yaml's concepts.men), as for the README command.

    EXPERTALIGN_MEN_DIR=../shared/data/MEN python benchmarks/default_run.py --cores 2
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from expertalign.workflow import write_json

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]")
RULE = re.compile(r"^(?:local)?rule (\w+):")
JOBID = re.compile(r"^\s+jobid: (\d+)")
FINISHED = re.compile(r"^Finished jobid: (\d+)")


def job_seconds(log_text: str) -> dict[str, list[float]]:
    """Seconds of each finished job, per rule, from a Snakemake log (1 s resolution)."""
    now, rule, started, rules = None, None, {}, {}
    seconds: dict[str, list[float]] = collections.defaultdict(list)
    for line in log_text.splitlines():
        if match := STAMP.match(line):
            now = datetime.datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif match := RULE.match(line.strip()):
            rule = match.group(1)
        elif (match := JOBID.match(line)) and rule:
            started[match.group(1)], rules[match.group(1)], rule = now, rule, None
        elif (match := FINISHED.match(line.strip())) and match.group(1) in started:
            seconds[rules[match.group(1)]].append((now - started[match.group(1)]).total_seconds())
    return dict(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="all")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/default_run.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="expertalign-default-") as work:
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                   "--directory", work, "--cores", args.cores]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        wall = time.perf_counter() - start
        log_text = max((Path(work) / ".snakemake/log").glob("*.log")).read_text()
    rules = job_seconds(log_text)
    result = {
        "benchmark": "default_run", "command": "snakemake --cores " + args.cores, "cpu_count": os.cpu_count(),
        "wall_s": wall, "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
        "jobs": sum(len(v) for v in rules.values()),
        "rules": {name: {"jobs": len(v), "total_s": sum(v), "max_s": max(v)}
                  for name, v in sorted(rules.items(), key=lambda item: -sum(item[1]))},
    }
    write_json(result, args.out)
    print(json.dumps({key: result[key] for key in ("wall_s", "jobs", "load_average_before")}))


if __name__ == "__main__":
    main()
