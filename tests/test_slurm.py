"""The slurm profile (slurm/config.yaml) against a real single-node SLURM cluster brought up by
tests/slurm/start_cluster.sh: the tiny workflow, submitted job by job with sbatch, gives the same
results as a local run, and a job that fails is resubmitted with more memory.

The cluster has no accounting database, so snakemake polls job states with squeue instead of sacct
(with sacct it would never see a job finish). Skipped only where slurmd cannot run at all (not root,
SLURM not installable); a cluster that fails to come up fails the tests.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_fixtures import REPO, run_snakemake, tiny_config

PROFILE = REPO / "slurm"
SLURM_SCRIPTS = REPO / "tests" / "slurm"
CANNOT_RUN_SLURMD = 77  # start_cluster.sh's exit status when this machine cannot host slurmd
SLURMCTLD_LOG = Path("/var/log/slurm/slurmctld.log")  # as written by start_cluster.sh
PARTITION = "debug"  # the one partition of the test cluster
TARGET = "results/tables/alignment.csv"
MODEL, CHECKPOINT = "tiny-gptneox", "step2"
# Test-only settings on top of the profile: poll job states with squeue, soon after submission
# (ends with a one-value option, so a target may follow).
CLUSTER_ARGS = [
    "--profile", str(PROFILE), "--executor", "slurm", "--jobs", "2",
    "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
]
# The test node has 2 cores and ~18 GB: lighter model jobs than the profile's GPU-node sizes (a
# --set-resources/--set-threads on the command line replaces the profile's whole block).
SMALL_NODE_ARGS = ["--set-resources", "extract:mem_mb=3000", "analyse:mem_mb=3000", "--set-threads", "extract=2"]
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: .*/slurm_logs/rule_(\w+)/")


@pytest.fixture(scope="module")
def cluster():
    """A running single-node SLURM cluster for the module; stopped afterwards."""
    started = subprocess.run(
        ["bash", str(SLURM_SCRIPTS / "start_cluster.sh")], capture_output=True, text=True, timeout=900
    )
    if started.returncode == CANNOT_RUN_SLURMD:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, f"start_cluster.sh failed:\n{started.stderr[-4000:]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EXPERTALIGN_SLURM_PARTITION", PARTITION)  # read by the profile's default-resources
        yield
    stopped = subprocess.run(["bash", str(SLURM_SCRIPTS / "stop_cluster.sh")], capture_output=True, text=True)
    assert stopped.returncode == 0, f"stop_cluster.sh failed:\n{stopped.stderr}"


def small_config(root: Path, men_dir: Path) -> Path:
    """The tiny config cut to one model, one checkpoint, one fold and one extraction shard (11 jobs)."""
    config = yaml.safe_load(tiny_config(root, men_dir).read_text())
    config["models"] = {MODEL: {**config["models"][MODEL], "checkpoints": [CHECKPOINT]}}
    config["folds"]["n_folds"] = 1
    config["extraction"]["shard_size"] = 100
    config["pilot"].update(model=MODEL, checkpoint=CHECKPOINT)
    path = root / "small.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts per rule from snakemake's 'Job stats' table (the first one printed)."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def slurmctld_events(job_ids: list[str]) -> dict[str, dict[str, str]]:
    """Per SLURM job id: how slurmctld received it ('batch' for sbatch) and its exit status."""
    events = {job: {} for job in job_ids}
    for line in SLURMCTLD_LOG.read_text().splitlines():
        if match := re.search(r"_slurm_rpc_submit_batch_job: JobId=(\d+) ", line):
            if match.group(1) in events:
                events[match.group(1)]["submitted"] = "batch"
        elif match := re.search(r"_job_complete: JobId=(\d+) WEXITSTATUS (\d+)", line):
            if match.group(1) in events:
                events[match.group(1)]["exit"] = match.group(2)
    return events


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory, men_dir):
    """The small config run through the profile on the cluster: (workdir, snakemake output)."""
    root = tmp_path_factory.mktemp("slurm")
    config = small_config(root / "inputs", men_dir)
    result = run_snakemake(root / "work", config, *SMALL_NODE_ARGS, *CLUSTER_ARGS, TARGET, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return root / "work", output


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, men_dir):
    """The same config and target run locally, without a profile: the workdir."""
    root = tmp_path_factory.mktemp("local")
    config = small_config(root / "inputs", men_dir)
    result = run_snakemake(root / "work", config, "--cores", "2", TARGET, timeout=1500)
    assert result.returncode == 0, result.stderr[-6000:]
    return root / "work"


def test_profile_names_only_existing_rules_and_asks_paper_sized_resources(tmp_path, men_dir):
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    rules = set(re.findall(r"^\s*rule (\w+):", "".join(p.read_text() for p in (REPO / "rules").glob("*.smk")), re.M))
    assert set(profile["set-resources"]) <= rules, set(profile["set-resources"]) - rules
    assert set(profile["set-threads"]) <= rules, set(profile["set-threads"]) - rules
    assert profile["rerun-incomplete"] is True and profile["retries"] >= 1
    config = tiny_config(tmp_path / "inputs", men_dir)
    dry = run_snakemake(tmp_path / "work", config, "--profile", str(PROFILE), "-n", TARGET)
    assert dry.returncode == 0, dry.stderr[-4000:]
    resources = {  # rule -> printed resources of its first job
        match.group(1): match.group(2)
        for match in re.finditer(r"rule (\w+):\n(?:    .*\n)*?    resources: (.*)", dry.stdout + dry.stderr)
    }
    assert "mem_mb=32000" in resources["extract"] and "runtime=240" in resources["extract"]
    assert "mem_mb=8000" in resources["analyse"]
    assert "mem_mb=4000" in resources["folds"] and "runtime=60" in resources["folds"]
    assert "gpu=0" in resources["extract"]  # the tiny config pins the CPU: no GPU requested


@pytest.mark.slurm
def test_failed_job_is_resubmitted_with_more_memory(cluster, tmp_path):
    # The job fails unless SLURM granted it at least 8 GB: attempt 1 asks 4000 MB, attempt 2 8000 MB.
    (tmp_path / "Snakefile").write_text(
        "rule granted_memory:\n"
        "    output: 'granted_mb.txt'\n"
        "    log: 'logs/granted_memory.log'\n"
        "    shell: \"scontrol show job $SLURM_JOB_ID | grep -o 'MinMemoryNode=[0-9]*' | cut -d= -f2 > {output}"
        " && test $(cat {output}) -ge 8000\"\n"
    )
    args = ["--snakefile", str(tmp_path / "Snakefile"), "--directory", str(tmp_path), *CLUSTER_ARGS]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert (tmp_path / "granted_mb.txt").read_text().strip() == "8000"
    jobs = [job for job, rule in SUBMITTED.findall(output)]
    assert len(jobs) == 2, output[-4000:]
    events = slurmctld_events(jobs)
    assert [events[job].get("exit") for job in jobs] == ["1", "0"]


def wait_for(condition, what: str, timeout_s: float = 180) -> None:
    """Poll ``condition()`` every second until it is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(1)


def slurm_job_active(job: str) -> bool:
    """Whether SLURM job ``job`` is still pending or running."""
    state = subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return state.stdout.strip() in {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING"}


@pytest.mark.slurm
def test_rerun_after_a_kill_redoes_only_unfinished_jobs(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(
        "rule finished_first:\n    output: 'first.txt'\n    shell: 'echo done > {output}'\n\n"
        "rule killed_midway:\n    input: 'first.txt'\n    output: 'second.txt'\n"
        "    shell: 'echo partial > {output} && sleep 10 && cp {input} {output}'\n"
    )
    snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(tmp_path / "Snakefile"),
                 "--directory", str(tmp_path), *CLUSTER_ARGS]
    log = tmp_path / "killed_run.log"
    with open(log, "w") as sink:
        run = subprocess.Popen([*snakemake, "second.txt"], stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for((tmp_path / "second.txt").exists, "the second job to start writing")
        finally:
            run.kill()  # SIGKILL: snakemake gets no chance to clean up or cancel the SLURM job
            run.wait()
    [(killed_job, _)] = [hit for hit in SUBMITTED.findall(log.read_text()) if hit[1] == "killed_midway"]
    subprocess.run(["scancel", killed_job], check=True)  # the job dies too, after writing part of its output
    wait_for(lambda: not slurm_job_active(killed_job), f"SLURM job {killed_job} to end")
    first_written = (tmp_path / "first.txt").stat().st_mtime_ns
    assert subprocess.run([*snakemake, "--unlock"], capture_output=True).returncode == 0  # the lock SIGKILL left
    rerun = subprocess.run([*snakemake, "second.txt"], capture_output=True, text=True, timeout=600)
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output[-4000:]
    assert [rule for _, rule in SUBMITTED.findall(output)] == ["killed_midway"]  # unfinished: redone
    assert (tmp_path / "first.txt").stat().st_mtime_ns == first_written  # finished: kept
    assert (tmp_path / "second.txt").read_text() == "done\n"


@pytest.mark.slurm
@pytest.mark.slow
def test_every_job_is_submitted_with_sbatch_and_completes(slurm_run):
    _, output = slurm_run
    planned = planned_jobs(output)
    submitted = SUBMITTED.findall(output)
    assert collections.Counter(rule for _, rule in submitted) == planned
    events = slurmctld_events([job for job, _ in submitted])
    assert all(event == {"submitted": "batch", "exit": "0"} for event in events.values()), events


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_results_equal_a_local_run(slurm_run, local_run):
    slurm_work, _ = slurm_run
    pd.testing.assert_frame_equal(
        pd.read_csv(slurm_work / TARGET), pd.read_csv(local_run / TARGET), check_exact=True
    )
    scores = f"results/ap/{MODEL}/{CHECKPOINT}/fold0.npz"
    on_slurm, local = np.load(slurm_work / scores), np.load(local_run / scores)
    assert sorted(on_slurm.files) == sorted(local.files)
    for key in local.files:
        np.testing.assert_array_equal(on_slurm[key], local[key], err_msg=key)
