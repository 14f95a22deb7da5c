"""The default-run benchmark reads per-rule job seconds off a Snakemake log."""

import importlib.util

from workflow_fixtures import REPO

spec = importlib.util.spec_from_file_location("default_run", REPO / "benchmarks" / "default_run.py")
default_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(default_run)

LOG = """\
[Sun Nov 22 02:56:25 2026]
rule extract:
    input: results/sentences/pool.parquet, results/folds/fold0.json
    jobid: 5
    threads: 2
[Sun Nov 22 02:56:30 2026]
localrule sentence_pool:
    jobid: 7
[Sun Nov 22 02:56:31 2026]
Finished jobid: 7 (Rule: sentence_pool)
[Sun Nov 22 02:58:05 2026]
Finished jobid: 5 (Rule: extract)
[Sun Nov 22 02:58:05 2026]
rule extract:
    jobid: 6
[Sun Nov 22 02:58:45 2026]
Finished jobid: 6 (Rule: extract)
"""


def test_job_seconds_pairs_each_job_with_its_finish():
    assert default_run.job_seconds(LOG) == {"extract": [100.0, 40.0], "sentence_pool": [1.0]}
