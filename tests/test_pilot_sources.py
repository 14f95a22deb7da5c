"""The pilot's sentence sources (pilot.sources): schema defaults, cross-key checks naming the bad
key, the paper's three generators, and the backend each source builds."""

import copy

import pytest
import yaml
from snakemake.utils import validate

from expertalign.config import SCHEMA_PATH, ConfigError, check_config
from expertalign.generation import BuiltinBackend, FileBackend, make_backend

MINIMAL = {
    "models": {"m": {"source": "all-minilm-l6-v2"}},
    "sentences": {"pool_size": 40},
    "folds": {"positive_size": 30, "negative_size": 75},
    "pilot": {"enabled": True, "model": "m", "positive_sizes": [10, 20], "negative_sizes": [25]},
}


def checked(pilot_update, repo, men_dir, monkeypatch):
    """MINIMAL with ``pilot_update`` merged into its pilot block, validated and checked."""
    monkeypatch.setenv("EXPERTALIGN_MEN_DIR", str(men_dir))
    config = copy.deepcopy(MINIMAL)
    config["pilot"].update(pilot_update)
    validate(config, str(SCHEMA_PATH), set_default=True)
    check_config(config, base=repo)
    return config


def test_no_sources_means_the_main_pool(repo, men_dir, monkeypatch):
    pilot = checked({}, repo, men_dir, monkeypatch)["pilot"]
    assert pilot["sources"] == {} and pilot["pool_size"] is None


def test_a_source_gets_its_backend_defaults(repo, men_dir, monkeypatch):
    pilot = checked({"sources": {"shipped": {"backend": "builtin"},
                                 "llm": {"backend": "openai", "openai": {"base_url": "http://x/v1", "model": "m"}}}},
                    repo, men_dir, monkeypatch)["pilot"]
    assert pilot["sources"]["shipped"]["builtin"]["path"] == "resources/sentences/builtin.jsonl"
    assert pilot["sources"]["llm"]["openai"]["api_key_env"] == "OPENAI_API_KEY"


@pytest.mark.parametrize("update, key", [
    ({"sources": {"main": {"backend": "builtin"}}}, "pilot.sources.main"),
    ({"sources": {"llm": {"backend": "openai", "openai": {"base_url": "http://x/v1"}}}}, "pilot.sources.llm.openai.model"),
    ({"sources": {"mine": {"backend": "file"}}}, "pilot.sources.mine.file.path"),
    ({"sources": {"mine": {"backend": "file", "file": {"path": "no/such.jsonl"}}}}, "pilot.sources.mine.file.path"),
    ({"sources": {"shipped": {"backend": "builtin"}}, "pool_size": 15}, "pilot.positive_sizes"),
])
def test_bad_sources_name_the_key(repo, men_dir, monkeypatch, update, key):
    with pytest.raises(ConfigError) as error:
        checked(update, repo, men_dir, monkeypatch)
    assert error.value.key == key
    if key == "pilot.positive_sizes":
        assert "pilot.pool_size=15" in str(error.value)


def test_an_unknown_backend_is_rejected_by_the_schema(repo, men_dir, monkeypatch):
    with pytest.raises(Exception, match="backend|sqlite"):
        checked({"sources": {"x": {"backend": "sqlite"}}}, repo, men_dir, monkeypatch)


def test_paper_config_compares_the_papers_three_generators_at_its_pool_size(repo):
    pilot = yaml.safe_load((repo / "config" / "paper.yaml").read_text())["pilot"]
    assert pilot["pool_size"] == 7000
    assert {s["backend"] for s in pilot["sources"].values()} == {"openai"}
    models = {s["openai"]["model"] for s in pilot["sources"].values()}
    assert {"gpt-4", "mistralai/Mistral-7B-Instruct-v0.2"} <= models and len(models) == 3


def test_make_backend_builds_reading_backends_and_rejects_unknown_names(repo, tmp_path):
    builtin = make_backend("builtin", {"path": repo / "resources/sentences/builtin.jsonl"})
    assert isinstance(builtin, BuiltinBackend)
    path = tmp_path / "mine.jsonl"
    path.write_text('{"concept": "cat-n", "sentence": "The cat slept."}\n')
    backend = make_backend("file", {"path": path})
    assert type(backend) is FileBackend and backend.records("cat-n")[0]["sentence"] == "The cat slept."
    with pytest.raises(ValueError, match="unknown sentence backend 'sqlite'"):
        make_backend("sqlite", {})
