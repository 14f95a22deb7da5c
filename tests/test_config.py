"""The config schema accepts the shipped configs and rejects bad ones, naming the bad key."""

import copy
import os
import subprocess
import sys

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from expertalign.config import SCHEMA_PATH, ConfigError, check_config, sorted_keys


def load(repo, name):
    with open(repo / name) as fh:
        return yaml.safe_load(fh)


def validated(config, repo, men_dir, monkeypatch):
    """Schema validation with defaults, then the cross-key checks, as the Snakefile does."""
    monkeypatch.setenv("EXPERTALIGN_MEN_DIR", str(men_dir))
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA_PATH), set_default=True)
    check_config(config, base=repo)
    return config


@pytest.mark.parametrize("name", ["config.yaml", "config/paper.yaml"])
def test_shipped_configs_are_valid(repo, men_dir, monkeypatch, name):
    config = validated(load(repo, name), repo, men_dir, monkeypatch)
    assert config["taus"] == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert config["statistics"]["confidence_level"] == 0.95  # a default filled in by the schema


def test_defaults_fill_a_minimal_config(repo, men_dir, monkeypatch):
    minimal = {"models": {"m": {"source": "all-minilm-l6-v2"}}, "folds": {"positive_size": 30}}
    config = validated(minimal, repo, men_dir, monkeypatch)
    assert config["models"]["m"]["checkpoints"] == ["final"]
    assert config["sentences"]["backend"] == "builtin"
    assert config["pooling"] == "max" and config["score"] == "ap"


def set_key(config, dotted, value):
    node = config
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return config


SCHEMA_ERRORS = [
    ("taus", [0.5, 1.5], "taus"),
    ("taus", [0.0], "taus"),
    ("sentences.backend", "gpt4-please", "backend"),
    ("models.minilm.dtype", "float8", "dtype"),
    ("folds.negative_size", "many", "negative_size"),
    ("score", "f1", "score"),
    ("pooling", "median", "pooling"),
    ("models.minilm.checkpoints", ["step/1"], "checkpoints"),
    ("statistics.bootstrap_resamples", 1, "bootstrap_resamples"),
    ("device", "tpu", "device"),
    ("colour_scheme", "dark", "colour_scheme"),
    ("concepts.men.split", "train", "split"),
]


@pytest.mark.parametrize("key, value, named", SCHEMA_ERRORS, ids=[e[0] + "=" + str(e[1]) for e in SCHEMA_ERRORS])
def test_schema_rejects_bad_values_naming_the_key(repo, men_dir, monkeypatch, key, value, named):
    bad = set_key(load(repo, "config.yaml"), key, value)
    with pytest.raises(WorkflowError) as err:
        validated(bad, repo, men_dir, monkeypatch)
    assert named in str(err.value)


CROSS_KEY_ERRORS = [
    ("folds.positive_size", 41, "folds.positive_size"),
    ("pilot.model", "gpt-7", "pilot.model"),
    ("pilot.checkpoint", "step99", "pilot.checkpoint"),
    ("pilot.positive_sizes", [10, 400], "pilot.positive_sizes"),
    ("sentences.builtin.path", "resources/nope.jsonl", "sentences.builtin.path"),
    ("concepts.hierarchy", "resources/nope.tsv", "concepts.hierarchy"),
    ("concepts.list", "resources/concepts/nope.txt", "concepts.list"),
    ("cross_dataset_tau", 0.55, "cross_dataset_tau"),
    ("cross_dataset_checkpoints", ["final", "step9"], "cross_dataset_checkpoints"),
]


@pytest.mark.parametrize("key, value, named", CROSS_KEY_ERRORS, ids=[e[0] for e in CROSS_KEY_ERRORS])
def test_cross_key_rules_name_the_key(repo, men_dir, monkeypatch, key, value, named):
    bad = set_key(load(repo, "config.yaml"), key, value)
    with pytest.raises(ConfigError) as err:
        validated(bad, repo, men_dir, monkeypatch)
    assert err.value.key == named and named in str(err.value)


def test_openai_backend_needs_an_endpoint(repo, men_dir, monkeypatch):
    bad = set_key(load(repo, "config.yaml"), "sentences.backend", "openai")
    with pytest.raises(ConfigError, match="sentences.openai.base_url"):
        validated(bad, repo, men_dir, monkeypatch)


def test_missing_men_folder_is_named(repo, tmp_path, monkeypatch):
    config = set_key(load(repo, "config.yaml"), "concepts.men.dir", str(tmp_path / "no-men-here"))
    monkeypatch.delenv("EXPERTALIGN_MEN_DIR", raising=False)
    validate(config, str(SCHEMA_PATH), set_default=True)
    with pytest.raises(ConfigError, match="concepts.men.dir") as err:
        check_config(config, base=repo)
    assert "no-men-here" in str(err.value)


def test_men_env_variable_overrides_and_is_named(repo, tmp_path, monkeypatch):
    (tmp_path / "MEN_dataset_lemma_form_full").write_text("a-n b-n 1.0\n")
    monkeypatch.setenv("EXPERTALIGN_MEN_DIR", str(tmp_path))
    config = load(repo, "config.yaml")
    validate(config, str(SCHEMA_PATH), set_default=True)
    check_config(config, base=repo)  # full split present: accepted
    config["concepts"]["men"]["split"] = "test"
    with pytest.raises(ConfigError, match="EXPERTALIGN_MEN_DIR") as err:
        check_config(config, base=repo)
    assert "MEN_dataset_lemma_form.test" in str(err.value)


def snakemake_cli(repo, *args, env_men=None, cwd=None):
    env = dict(os.environ)
    if env_men:
        env["EXPERTALIGN_MEN_DIR"] = str(env_men)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), *args]
    return subprocess.run(cmd, cwd=cwd or repo, env=env, capture_output=True, text=True, timeout=600)


def test_bad_config_stops_snakemake_before_any_job(repo, men_dir, tmp_path):
    bad = set_key(load(repo, "config.yaml"), "taus", [0.5, 1.5])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    run = snakemake_cli(repo, "-n", "--configfile", str(path), "--directory", str(tmp_path), env_men=men_dir)
    assert run.returncode != 0
    assert "taus" in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()


def test_dry_run_of_the_default_config_builds_a_dag(repo, men_dir, tmp_path):
    run = snakemake_cli(repo, "-n", "--quiet", "rules", "--directory", str(tmp_path), env_men=men_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    for rule in ("extract", "merge_shards", "analyse", "fig2_alignment", "fig4_hierarchy_heatmap"):
        assert rule in out


def test_sorted_keys_orders_mappings_at_every_depth_and_keeps_list_order():
    config = {"b": {"z": 1, "a": [{"y": 2, "c": 3}, 0]}, "a": [3, 1, 2]}
    canonical = sorted_keys(config)
    assert canonical == config
    assert list(canonical) == ["a", "b"] and list(canonical["b"]) == ["a", "z"]
    assert list(canonical["b"]["a"][0]) == ["c", "y"] and canonical["a"] == [3, 1, 2]
    reordered = {"a": [3, 1, 2], "b": {"a": [{"c": 3, "y": 2}, 0], "z": 1}}
    assert repr(reordered) != repr(config) and repr(sorted_keys(reordered)) == repr(canonical)
