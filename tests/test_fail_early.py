"""Issue 19: bad input stops early with a named error, moving inputs reruns nothing, and a crashed run
recovers in one documented step. Each case reproduces the report on the tiny config."""

import json
import re
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml

from expertalign.config import ConfigError, SCHEMA_PATH, schema_error
from expertalign.scores import read_scores
from expertalign.generation import FileBackend, GenerationError
from expertalign.workflow import CorruptFileError, read_parquet, save_npz, write_csv
from workflow_fixtures import CONCEPTS, MEN_DIR, REPO, run_snakemake, tiny_config

SHARD = "results/ap/tiny-gptneox/step1/fold0/shard0.npz"
TARGETS = [SHARD, "results/men/pairs_full.csv"]


def output(result) -> str:
    return result.stdout + result.stderr


def with_changes(config_path, destination, **changes):
    """A copy of a config with dotted keys set (``concepts__list`` sets concepts.list)."""
    config = yaml.safe_load(config_path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    destination.write_text(yaml.safe_dump(config, sort_keys=False))
    return destination


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, men_dir):
    """The tiny config's inputs (models built once for the module); returns the config path."""
    return tiny_config(tmp_path_factory.mktemp("tiny") / "inputs", men_dir)


@pytest.fixture(scope="module")
def extracted(tiny, tmp_path_factory):
    """A work folder where one extraction shard and the MEN pairs were built; returns it."""
    work = tmp_path_factory.mktemp("extracted") / "work"
    result = run_snakemake(work, tiny, "--cores", "2", *TARGETS)
    assert result.returncode == 0, result.stderr[-6000:]
    return work


def copy_of(work, tmp_path):
    """A copy of a work folder, modification times and Snakemake's records included."""
    return shutil.copytree(work, tmp_path / "work", symlinks=True)


# 1. The tests' snakemake subprocesses read MEN from the tests' folder, with no variable set.


def test_snakemake_subprocess_reads_men_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPERTALIGN_MEN_DIR", raising=False)
    result = run_snakemake(tmp_path, REPO / "config" / "paper.yaml", "-n", "results/men/pairs_test.csv")
    assert result.returncode == 0, output(result)[-3000:]  # config/paper.yaml would download MEN
    assert "men_pairs" in output(result)


# 2. Params describe content, not location.


@pytest.mark.slow
def test_inputs_moved_to_another_path_rerun_nothing(tiny, extracted, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("concepts.txt", "hierarchy.tsv", "sentences.jsonl"):
        shutil.copy(tiny.parent / name, moved / name)  # a fresh copy: new path, new mtime
    config = with_changes(
        tiny, tmp_path / "moved.yaml",
        concepts__list=str(moved / "concepts.txt"), concepts__hierarchy=str(moved / "hierarchy.tsv"),
        sentences__file={"path": str(moved / "sentences.jsonl")},
    )
    result = run_snakemake(extracted, config, "-n", *TARGETS)
    assert result.returncode == 0, output(result)[-3000:]
    assert "Nothing to be done" in output(result), output(result)[-3000:]

    # The content is still compared: another sentence in the file reruns the pool and the extraction.
    with open(moved / "sentences.jsonl", "a") as fh:
        fh.write(json.dumps({"concept": "dog-n", "sentence": "A dog slept by the door.", "prompt": "fact"}) + "\n")
    planned = output(run_snakemake(extracted, config, "-n", *TARGETS))
    assert "sentence_pool" in planned and "extract" in planned


# 3. A hierarchy that does not match the concept list stops at parse time.


def test_hierarchy_concepts_outside_the_concept_list_stop_at_parse_time(tiny, tmp_path):
    concepts = [c for c in tiny.parent.joinpath("concepts.txt").read_text().split() if c not in {"horse-n", "bus-n"}]
    (tmp_path / "concepts.txt").write_text("\n".join(concepts) + "\n")
    config = with_changes(tiny, tmp_path / "bad.yaml", concepts__list=str(tmp_path / "concepts.txt"))
    result = run_snakemake(tmp_path / "work", config, "-n")
    assert result.returncode != 0
    assert "config key 'concepts.hierarchy'" in output(result)
    assert "bus-n, horse-n" in output(result)
    assert not (tmp_path / "work" / "results").exists()


# 4. Outputs get the mode the umask allows, not mkstemp's 0600.


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_respect_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "table.csv")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "table.csv").stat().st_mode) == mode


# 5. The file backend checks every row, naming file and line.


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def record(concept, sentence):
    return json.dumps({"concept": concept, "sentence": sentence})


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"concept": "dog-n", "sentence": "A dog ran.",}', r"bad.jsonl:3: not valid JSON"),
        ('["dog-n", "A dog ran."]', r"bad.jsonl:3: expected a JSON object, got list"),
        (record("dog-n", "   "), r"bad.jsonl:3: empty sentence for concept dog-n"),
        (json.dumps({"concept": "dog-n"}), r"bad.jsonl:3: empty sentence for concept dog-n"),
        (record("dog", "A dog ran."), r"bad.jsonl:3: bad concept id 'dog'"),
        (record("cat-n", "A cat sat."), r"bad.jsonl:3: sentence repeats line 1 for concept cat-n"),
    ],
)
def test_file_backend_names_file_and_line_of_a_bad_row(tmp_path, bad_line, message):
    path = write_lines(tmp_path / "bad.jsonl", [record("cat-n", "A cat sat."), record("dog-n", "A dog sat."), bad_line])
    with pytest.raises(GenerationError, match=message):
        FileBackend(path)


def test_file_backend_csv_rows_are_named_by_file_line(tmp_path):
    path = write_lines(tmp_path / "bad.csv", ["concept,sentence", "dog-n,A dog ran.", "cat-n,", "cat-n,A cat sat."])
    with pytest.raises(GenerationError, match=r"bad.csv:3: empty sentence for concept cat-n"):
        FileBackend(path)


def test_empty_sentence_stops_the_sentence_pool_job_naming_file_and_line(tiny, tmp_path):
    lines = tiny.parent.joinpath("sentences.jsonl").read_text().splitlines()
    lines[4] = record("animal-n", "")
    sentences = write_lines(tmp_path / "sentences.jsonl", lines)
    config = with_changes(tiny, tmp_path / "bad.yaml", sentences__file={"path": str(sentences)})
    result = run_snakemake(tmp_path / "work", config, "--cores", "1", "results/sentences/pool.parquet")
    assert result.returncode != 0
    assert f"{sentences}:5: empty sentence for concept animal-n" in output(result)
    assert not (tmp_path / "work" / "results" / "sentences" / "pool.parquet").exists()


# 6. A corrupt intermediate names the file and the command that rebuilds it.


def truncate_to_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_score_file_names_itself_and_the_rebuild_command(tmp_path):
    path = tmp_path / "fold0.npz"
    save_npz(path, concepts=np.array(["a-n"]), ap=np.zeros((1, 3), np.float32), auroc=np.zeros((1, 3), np.float32),
             n_pos=np.array([2]), n_neg=np.array([5]))
    truncate_to_half(path)
    with pytest.raises(CorruptFileError, match=f"{path} cannot be read") as error:
        read_scores(path)
    assert f"snakemake --cores all --forcerun {path}" in str(error.value)
    assert isinstance(error.value.__cause__, zipfile.BadZipFile)
    with pytest.raises(FileNotFoundError):
        read_scores(tmp_path / "absent.npz")  # a missing file stays a missing file


def test_truncated_parquet_names_itself(tmp_path):
    path = tmp_path / "pool.parquet"
    pd.DataFrame({"sentence": ["a", "b"]}).to_parquet(path)
    truncate_to_half(path)
    with pytest.raises(CorruptFileError, match=f"{path} cannot be read.*--forcerun {path}"):
        read_parquet(path)


@pytest.mark.slow
def test_truncated_pool_fails_the_next_job_naming_the_pool(tiny, extracted, tmp_path):
    work = copy_of(extracted, tmp_path)
    truncate_to_half(work / "results/sentences/pool.parquet")
    result = run_snakemake(work, tiny, "--cores", "1", "results/folds/fold1.json")
    assert result.returncode != 0
    assert "results/sentences/pool.parquet cannot be read" in output(result)
    assert "snakemake --cores all --forcerun results/sentences/pool.parquet" in output(result)
    rebuild = run_snakemake(work, tiny, "-n", "--forcerun", "results/sentences/pool.parquet", "results/folds/fold1.json")
    assert rebuild.returncode == 0 and "sentence_pool" in output(rebuild)  # the suggested command rebuilds it


# 7. After a kill -9: `snakemake --unlock`, then the plain command (the workflow profile reruns
#    incomplete jobs; every expertalign writer is atomic, so the half-written output is simulated).


@pytest.mark.slow
def test_after_kill_9_unlock_then_the_plain_command_recovers(tiny, extracted, tmp_path):
    work = copy_of(extracted, tmp_path)
    target = SHARD.replace("shard0", "shard1")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(tiny), "--cores", "1", target]
    env = {**os.environ, "EXPERTALIGN_MEN_DIR": str(MEN_DIR)}
    run = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    incomplete = work / ".snakemake" / "incomplete"
    deadline = time.monotonic() + 300
    while not (incomplete.is_dir() and any(incomplete.iterdir())):
        assert run.poll() is None and time.monotonic() < deadline, "the extract job never started"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()

    locked = run_snakemake(work, tiny, "--cores", "1", target)  # the killed run's lock is still there
    assert locked.returncode != 0 and "--unlock" in output(locked)
    assert run_snakemake(work, tiny, "--unlock").returncode == 0
    (work / target).write_bytes(b"half an npz")  # what a writer that is not atomic leaves behind
    without_profile = run_snakemake(work, tiny, "-n", "--workflow-profile", "none", target)
    assert without_profile.returncode != 0 and "--rerun-incomplete" in output(without_profile)
    recovered = run_snakemake(work, tiny, "--cores", "2", target)
    assert recovered.returncode == 0, output(recovered)[-3000:]
    assert len(read_scores(work / target)["concepts"]) == len(CONCEPTS) - 8  # rebuilt: the second shard of 8
    assert not any(incomplete.iterdir())


# 8. A schema error names the key first and fits a screen.


def test_misspelt_top_level_key_is_named_first_in_a_few_lines(tiny, tmp_path):
    config = yaml.safe_load(tiny.read_text())
    config["statistcs"] = config.pop("statistics")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path / "work", path, "-n")
    assert result.returncode != 0
    assert "config key 'statistcs': unknown key; did you mean 'statistics'?" in output(result)
    assert len(output(result).splitlines()) <= 10, output(result)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"folds": {"postive_size": 3}}, "config key 'folds.postive_size': unknown key; did you mean 'positive_size'?"),
        ({"models": {"m": {"source": "x", "dtype": "fp8"}}}, "config key 'models.m.dtype': 'fp8' is not one of"),
        ({"taus": "0.5"}, "config key 'taus': '0.5' is not of type 'array'"),
        ({"zzz": 1}, "config key 'zzz': unknown key; known keys: baselines, concepts"),
    ],
)
def test_schema_errors_are_one_line_key_first(change, expected):
    from jsonschema import Draft202012Validator

    config = {"models": {"m": {"source": "x"}}, **change}
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    error = next(iter(Draft202012Validator(schema).iter_errors(config)))
    message = str(schema_error(error))
    assert isinstance(schema_error(error), ConfigError)
    assert message.startswith(expected) and "\n" not in message


# 9. A bad human dataset stops the run at parse time, before any job, naming the file and line.


@pytest.mark.parametrize(
    "content, named",
    [
        ("word1\tword2\tscore\ndog\tcat\t7\ncat\tsun\thigh\n", r"mine.tsv:3"),  # non-numeric score
        ("first\tsecond\tscore\ndog\tcat\t7\n", r"mine.tsv:1"),  # bad header
        ("word1\tword2\tscore\nzebra\tyak\t7\n", r"none of the 1 pairs of .*mine.tsv"),  # no pair among the concepts
    ],
    ids=["score", "header", "no-pair"],
)
def test_a_bad_dataset_stops_the_run_before_any_job(tiny, tmp_path, content, named):
    user = tmp_path / "mine.tsv"
    user.write_text(content)
    config = with_changes(tiny, tmp_path / "config.yaml", datasets__names=["men", "mine"],
                          datasets__user={"mine": str(user)})
    work = tmp_path / "work"
    result = run_snakemake(work, config, "--cores", "1")
    assert result.returncode != 0
    assert "DatasetError" in output(result)
    assert re.search(named, output(result)), output(result)[-3000:]
    assert not (work / "results").exists()  # nothing ran
