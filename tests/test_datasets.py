"""The similarity-dataset registry: loaders on the shared copies, POS rule, malformed files, sha1."""

from __future__ import annotations

import hashlib
import logging
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from snakemake.utils import validate
from test_concepts import http_folder  # noqa: F401 - the local HTTP server fixture
from workflow_fixtures import REPO

from expertalign import datasets
from expertalign.concepts import load_men
from expertalign.config import SCHEMA_PATH
from expertalign.datasets import (
    DATASETS,
    DatasetError,
    infer_pos,
    load_dataset,
    load_pair_file,
    pairs_among,
    user_spec,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SIMLEX_DIR, WORDSIM_DIR = SHARED / "SimLex-999", SHARED / "WordSim-353"
OFFICIAL_HEADER = "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\tSimAssoc333\tSD(SimLex)"


@pytest.fixture(autouse=True)
def _no_dataset_env(monkeypatch):
    for spec in DATASETS.values():
        if spec.dir_env and spec.name != "men":
            monkeypatch.delenv(spec.dir_env, raising=False)


@pytest.fixture(scope="module")
def simlex() -> pd.DataFrame:
    return load_dataset("simlex999", SIMLEX_DIR)


# ------------------------------------------------------------------ shared copies


def test_simlex_offline_copy_infers_pos_close_to_the_official_counts(simlex):
    assert len(simlex) == 999  # every pair gets a POS, none is a self-pair
    assert set(simlex["pos_source"]) == {"inferred"}
    tags = simlex["word1"].str[-1]
    assert (tags == simlex["word2"].str[-1]).all()
    counts = tags.value_counts().to_dict()
    official = {"n": 666, "v": 222, "j": 111}  # the README's counts of the official POS column
    agreement = sum(min(counts.get(t, 0), n) for t, n in official.items()) / 999
    assert agreement >= 0.99, counts  # measured: n 665, v 223, j 111 -> 998/999
    first = simlex.iloc[0]
    assert (first["word1"], first["word2"], first["score"]) == ("old-j", "new-j", 1.58)


def test_wordsim_is_nouns_without_the_self_pair_and_words_lacking_a_noun_synset(caplog):
    caplog.set_level(logging.INFO, logger="expertalign.datasets")
    pairs = load_dataset("wordsim353", WORDSIM_DIR)
    # 353 rows - tiger-tiger - 5 pairs with a word that has no WordNet noun synset (eat, live, ...)
    assert len(pairs) == 347
    assert pairs["word1"].str.endswith("-n").all() and pairs["word2"].str.endswith("-n").all()
    assert not ((pairs["word1"] == "tiger-n") & (pairs["word2"] == "tiger-n")).any()
    assert ("drink-n", "eat-n") not in set(zip(pairs["word1"], pairs["word2"]))
    assert "tiger-n" in caplog.text and "drink-eat" in caplog.text


def test_men_pairs_come_from_the_men_loader(men_dir):
    config = _validated({"names": ["men"]}, men_dir)
    config["concepts"]["men"]["split"] = "full"
    source = datasets.check_configured(config, ["dog-n", "cat-n", "sun-n", "moon-n"], REPO, men_dir=men_dir)["men"]
    pairs = datasets.load_source(source)
    assert len(pairs) == 3000 and list(pairs.columns) == datasets.COLUMNS
    pd.testing.assert_frame_equal(pairs.drop(columns="pos_source"), load_men(men_dir, "full"))


def test_the_environment_variable_overrides_the_configured_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPERTALIGN_WORDSIM_DIR", str(WORDSIM_DIR))
    assert len(load_dataset("wordsim353", tmp_path / "nowhere")) == 347


def test_ceilings():
    assert datasets.men_ceiling(SHARED / "MEN") == 0.84
    assert DATASETS["simlex999"].ceiling == 0.67
    assert DATASETS["wordsim353"].ceiling is None
    assert all(spec.ceiling_source for spec in DATASETS.values())


def test_men_ceiling_is_read_from_agreement_score_txt(tmp_path):
    (tmp_path / "agreement-score.txt").write_text("...\ncorrelation(men, marco+elia)=0.91\n")
    assert datasets.men_ceiling(tmp_path) == 0.91
    assert datasets.men_ceiling(tmp_path / "absent") == 0.84


# ------------------------------------------------------------------ POS


class _Lemma:
    def __init__(self, name, count):
        self._name, self._count = name, count

    def name(self):
        return self._name

    def count(self):
        return self._count


class _Synset:
    def __init__(self, *lemmas):
        self._lemmas = [_Lemma(*lemma) for lemma in lemmas]

    def lemmas(self):
        return self._lemmas


class _Reader:
    """A WordNet stand-in: word -> pos -> synsets of (lemma name, count) tuples."""

    def __init__(self, table):
        self.table = table

    def synsets(self, word, pos):
        return [_Synset(*lemmas) for lemmas in self.table.get(word, {}).get(pos, [])]


def test_pos_rule_largest_summed_count_wins_ties_go_to_n_then_v_then_a():
    reader = _Reader({
        "alpha": {"n": [[("alpha", 1)]], "v": [[("Alpha", 3), ("other", 50)]], "a": [[("alpha", 9)]]},
        "beta": {"n": [[("beta", 3)]], "v": [[("beta", 1)]]},
        "gamma": {"n": [[("gamma", 0)]], "v": [[("gamma", 0)], [("gamma", 0)]]},
        "delta": {"a": [[("delta", 2)]]},
        "epsilon": {"n": [[("epsilon", 0)]], "v": [[("epsilon", 5)]]},
    })
    # n: 1+3 = 4 ties v: 3+1 = 4 (case-insensitive, "other" not counted); a lacks beta -> n
    assert infer_pos("alpha", "beta", reader) == "n"
    assert infer_pos("beta", "epsilon", reader) == "v"  # n: 3 + 0 < v: 1 + 5
    assert infer_pos("gamma", "gamma", reader) == "n"  # all zero: first candidate
    assert infer_pos("alpha", "delta", reader) == "j"  # only a has both words
    assert infer_pos("beta", "delta", reader) is None


def test_pos_rule_on_wordnet():
    reader = datasets.wordnet_reader()
    assert infer_pos("dog", "cat", reader) == "n"
    assert infer_pos("run", "walk", reader) == "v"  # both have noun synsets, verb counts win
    assert infer_pos("happy", "cheerful", reader) == "j"
    assert infer_pos("xqzzy", "dog", reader) is None


def test_official_simlex_format_takes_its_pos_column(tmp_path):
    path = tmp_path / "SimLex-999.txt"
    # the POS column is found by name (third here), the score by its name SimLex999
    path.write_text(OFFICIAL_HEADER + "\n"
                    "old\tnew\tA\t1.58\t2.72\t2.81\t2\t7.25\t1\t0.41\n"
                    "run\twalk\tN\t4.5\t4\t4\t4\t0\t0\t0.3\n")
    pairs = load_dataset("simlex999", tmp_path)
    assert pairs.to_dict("list") == {
        "word1": ["old-j", "run-n"], "word2": ["new-j", "walk-n"], "score": [1.58, 4.5],
        "pos_source": ["given", "given"],
    }


@pytest.mark.parametrize("suffix, sep", [(".tsv", "\t"), (".csv", ",")])
def test_user_files_with_and_without_pos(tmp_path, suffix, sep):
    with_pos = tmp_path / f"with_pos{suffix}"
    with_pos.write_text(sep.join(["word1", "word2", "score", "pos"]) + "\n"
                        + sep.join(["Dog", "cat", "7", "n"]) + "\n" + sep.join(["go", "run", "3.5", "v"]) + "\n")
    pairs = load_pair_file(user_spec("mine"), with_pos)
    assert pairs.to_dict("list") == {"word1": ["dog-n", "go-v"], "word2": ["cat-n", "run-v"],
                                     "score": [7.0, 3.5], "pos_source": ["given", "given"]}
    without = tmp_path / f"without{suffix}"
    without.write_text(sep.join(["WORD1", "word2", "score"]) + "\n" + sep.join(["dog", "cat", "7"]) + "\n")
    pairs = load_pair_file(user_spec("mine"), without)
    assert pairs.to_dict("list") == {"word1": ["dog-n"], "word2": ["cat-n"], "score": [7.0],
                                     "pos_source": ["inferred"]}


def test_a_user_dataset_cannot_take_a_builtin_name():
    with pytest.raises(DatasetError, match="datasets.user.men"):
        user_spec("men")


# ------------------------------------------------------------------ malformed files


@pytest.mark.parametrize(
    "text, message",
    [
        ("word1\tword2\tpos\ndog\tcat\tn\n", r"{path}:1: header lacks column\(s\) \['score'\]"),
        ("first\tsecond\tscore\ndog\tcat\t1\n", r"{path}:1: bad header"),
        ("# comment\nword1\tword2\tscore\ndog\tcat\t1\nbird\tcat\tmany\n", r"{path}:4: score 'many' is not a number"),
        ("word1\tword2\tscore\ndog\tcat\t1\nbird\tcat\n", r"{path}:3: expected 3 fields, got 2"),
        ("word1\tword2\tscore\tpos\ndog\tcat\t1\tq\n", r"{path}:2: POS 'q' is not one of"),
        ("word1\tword2\tscore\tpos\nhot dog\tcat\t1\tn\n", r"{path}:2: bad concept id 'hot dog-n'"),
        ("# only a comment\n\n", r"{path}: no rows"),
        ("word1\tword2\tscore\n", r"{path}: no rows after the header"),
    ],
)
def test_malformed_user_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message.format(path=path)):
        load_pair_file(user_spec("bad"), path)


def test_malformed_headerless_simlex_row_names_its_line(tmp_path):
    path = tmp_path / "SimLex-999.txt"  # no known sha1: read unchecked
    path.write_text("# c\n# c\nold\tnew\t1.58\nsmart\tintelligent\tnine\n")
    with pytest.raises(DatasetError, match=rf"{path}:4: score 'nine' is not a number"):
        load_dataset("simlex999", tmp_path)


def test_a_modified_known_copy_fails_its_sha1_naming_both_hashes(tmp_path):
    path = tmp_path / "wordsim353.tsv"
    path.write_bytes((WORDSIM_DIR / "wordsim353.tsv").read_bytes().replace(b"6.77", b"6.78"))
    got = hashlib.sha1(path.read_bytes()).hexdigest()
    with pytest.raises(DatasetError) as caught:
        load_dataset("wordsim353", tmp_path)
    assert str(path) in str(caught.value) and got in str(caught.value)
    assert DATASETS["wordsim353"].files["wordsim353.tsv"] in str(caught.value)


def test_a_folder_without_any_known_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match=rf"simlex999: {tmp_path} holds none of"):
        load_dataset("simlex999", tmp_path)


def test_unknown_dataset_name():
    with pytest.raises(DatasetError, match="unknown dataset 'simlex'"):
        load_dataset("simlex")


# ------------------------------------------------------------------ downloads


def _simlex_zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("SimLex-999/SimLex-999.txt", text)
    return buffer.getvalue()


def test_download_needs_and_checks_a_sha1(http_folder, tmp_path):  # noqa: F811 - fixture
    www, base = http_folder
    text = OFFICIAL_HEADER + "\nold\tnew\tA\t1.58\t2.72\t2.81\t2\t7.25\t1\t0.41\n"
    (www / "SimLex-999.zip").write_bytes(_simlex_zip(text))
    sha1 = hashlib.sha1(text.encode()).hexdigest()
    entry = {"url": f"{base}/SimLex-999.zip", "file": "SimLex-999.txt", "sha1": sha1}
    pairs = load_dataset("simlex999", urls=[entry], cache_dir=tmp_path / "cache")
    assert pairs["word1"].tolist() == ["old-j"]
    assert (tmp_path / "cache" / "simlex999" / "SimLex-999.txt").read_text() == text
    wrong = dict(entry, sha1="0" * 40)
    with pytest.raises(DatasetError, match=f"expected {'0' * 40}, got {sha1}"):
        load_dataset("simlex999", urls=[wrong], cache_dir=tmp_path / "other")
    with pytest.raises(DatasetError, match="no download URL with a sha1"):
        load_dataset("simlex999", cache_dir=tmp_path / "other")  # the default entry has no sha1


# ------------------------------------------------------------------ pairs among the concepts


def test_pairs_among_keeps_pairs_of_configured_concepts_and_fails_on_none(simlex):
    kept = pairs_among(simlex, ["old-j", "new-j", "smart-j"], "simlex999")
    assert kept[["word1", "word2"]].values.tolist() == [["old-j", "new-j"]]
    with pytest.raises(DatasetError, match="dataset 'simlex999': none of its 999 pairs"):
        pairs_among(simlex, ["dog-n"], "simlex999")


# ------------------------------------------------------------------ config


def _validated(datasets_block: dict, men_dir) -> dict:
    config = {"models": {"m": {"source": "all-minilm-l6-v2"}}, "concepts": {"men": {"dir": str(men_dir)}},
              "datasets": datasets_block}
    validate(config, str(SCHEMA_PATH), set_default=True)
    return config


def test_schema_defaults_load_men_only(men_dir):
    config = _validated({}, men_dir)
    assert config["datasets"]["names"] == ["men"]
    assert config["datasets"]["simlex999"]["urls"][0]["sha1"] is None
    assert list(datasets.check_configured(config, ["dog-n", "cat-n", "sun-n", "moon-n"], REPO, men_dir=men_dir)) == [
        "men"
    ]


def test_configured_builtin_and_user_datasets(men_dir, tmp_path):
    user = tmp_path / "mine.csv"
    user.write_text("word1,word2,score,pos\ndog,cat,7,n\n")
    config = _validated({"names": ["wordsim353", "mine"], "wordsim353": {"dir": str(WORDSIM_DIR)},
                         "user": {"mine": str(user)}}, men_dir)
    sources = datasets.check_configured(config, ["dog-n", "cat-n", "tiger-n", "love-n", "sex-n"], REPO,
                                        men_dir=men_dir)
    loaded = {name: datasets.load_source(source) for name, source in sources.items()}
    assert list(loaded) == ["wordsim353", "mine"]
    assert len(loaded["wordsim353"]) == 347 and loaded["mine"]["word1"].tolist() == ["dog-n"]
    config["datasets"]["names"] = ["simlex"]
    with pytest.raises(DatasetError, match="datasets.names: unknown dataset 'simlex'"):
        datasets.check_configured(config, ["dog-n", "cat-n"], REPO, men_dir=men_dir)


def test_schema_rejects_a_url_entry_without_sha1_key(men_dir):
    with pytest.raises(Exception, match="sha1"):
        _validated({"simlex999": {"urls": [{"url": "https://x/y.zip", "file": "SimLex-999.txt"}]}}, men_dir)


def test_user_entries_may_carry_a_ceiling_and_the_schema_checks_it(men_dir, tmp_path):
    config = _validated({"user": {"a": "a.tsv", "b": {"path": "b.tsv", "ceiling": 0.7}, "c": {"path": "c.tsv"}}},
                        men_dir)
    assert config["datasets"]["user"]["b"] == {"path": "b.tsv", "ceiling": 0.7}
    assert datasets.user_entry("a", "a.tsv") == ("a.tsv", None)
    assert datasets.user_entry("b", {"path": "b.tsv", "ceiling": 0.7}) == ("b.tsv", 0.7)
    assert datasets.user_entry("c", {"path": "c.tsv"}) == ("c.tsv", None)
    for bad in ({"path": "b.tsv", "ceiling": 1.5}, {"ceiling": 0.5}, {"path": "b.tsv", "extra": 1}, 3):
        with pytest.raises(Exception):
            _validated({"user": {"b": bad}}, men_dir)


def test_schema_search_dirs_default_to_none(men_dir):
    config = _validated({}, men_dir)
    assert config["datasets"]["simlex999"]["search_dirs"] == []
    assert config["datasets"]["wordsim353"]["search_dirs"] == []


# ------------------------------------------------------------------ parse-time check (check_configured)


def _three(men_dir, **block) -> dict:
    """A schema-valid config naming the three built-in datasets, the two others from the shared copies."""
    return _validated({"names": ["men", "simlex999", "wordsim353"],
                       "simlex999": {"search_dirs": [str(SIMLEX_DIR)]}, "wordsim353": {"dir": str(WORDSIM_DIR)},
                       **block}, men_dir)


@pytest.fixture(scope="module")
def men_words(men_dir) -> list[str]:
    from expertalign.concepts import men_concepts

    return men_concepts(men_dir)


def test_check_configured_on_the_shared_copies(men_dir, men_words, tmp_path):
    import json

    sources = datasets.check_configured(_three(men_dir), men_words, tmp_path, men_dir=men_dir)
    assert list(sources) == ["men", "simlex999", "wordsim353"]
    assert json.loads(json.dumps(sources)) == sources  # plain JSON: a Snakemake param
    men, simlex, wordsim = sources.values()
    assert men == {
        "name": "men", "file": str(men_dir.absolute()), "split": "test",
        "sha1": hashlib.sha1((men_dir / "MEN_dataset_lemma_form.test").read_bytes()).hexdigest(),
        "pos_rule": "given", "ceiling": 0.84,
        "ceiling_source": f"{men_dir.absolute() / 'agreement-score.txt'}: correlation(men, marco+elia)=0.84",
    }
    assert simlex["file"] == str(SIMLEX_DIR / "simlex999.txt") and simlex["split"] is None
    assert simlex["sha1"] == DATASETS["simlex999"].files["simlex999.txt"]
    assert (simlex["pos_rule"], simlex["ceiling"]) == ("wordnet", 0.67)
    assert wordsim["file"] == str(WORDSIM_DIR / "wordsim353.tsv")
    assert (wordsim["pos_rule"], wordsim["ceiling"]) == ("noun", None) and wordsim["ceiling_source"]
    # the job side: the same pairs as the direct loaders
    assert len(datasets.load_source(wordsim)) == 347
    men_pairs = datasets.load_source(men)
    assert len(men_pairs) == 1000 and set(men_pairs["pos_source"]) == {"given"}


def test_check_configured_resolves_men_itself_and_reads_its_ceiling(men_dir, men_words, tmp_path, monkeypatch):
    monkeypatch.delenv("EXPERTALIGN_MEN_DIR", raising=False)
    folder = tmp_path / "MEN"
    folder.mkdir()
    for name in ("MEN_dataset_lemma_form.dev", "MEN_dataset_lemma_form.test", "MEN_dataset_lemma_form_full"):
        folder.joinpath(name).write_bytes((men_dir / name).read_bytes())
    folder.joinpath("agreement-score.txt").write_text("correlation(men, marco+elia)=0.91\n")
    config = _validated({}, men_dir)
    config["concepts"]["men"] |= {"dir": None, "search_dirs": ["MEN"], "split": "full"}
    source = datasets.check_configured(config, men_words, tmp_path)["men"]  # search_dirs read from base
    assert (source["file"], source["split"], source["ceiling"]) == (str(folder), "full", 0.91)
    (folder / "agreement-score.txt").unlink()
    source = datasets.check_configured(config, men_words, tmp_path)["men"]
    assert source["ceiling"] == 0.84 and "Bruni" in source["ceiling_source"]


def test_search_dirs_find_the_shared_copies_and_skip_altered_ones(men_dir, men_words, tmp_path, monkeypatch):
    altered = tmp_path / "altered"
    altered.mkdir()
    (altered / "wordsim353.tsv").write_bytes((WORDSIM_DIR / "wordsim353.tsv").read_bytes() + b"cat\tdog\t7\n")
    (altered / "combined.tab").write_text("word1\tword2\tscore\ncat\tdog\t7\n")  # no known sha1: not taken
    config = _validated({"names": ["wordsim353", "simlex999"],
                         "wordsim353": {"search_dirs": ["altered", "nowhere", str(WORDSIM_DIR)]},
                         "simlex999": {"search_dirs": [str(SIMLEX_DIR)]}}, men_dir)
    sources = datasets.check_configured(config, men_words, tmp_path, men_dir=men_dir)
    assert sources["wordsim353"]["file"] == str(WORDSIM_DIR / "wordsim353.tsv")
    assert sources["simlex999"]["file"] == str(SIMLEX_DIR / "simlex999.txt")
    # dir, and the environment variable above it, come before search_dirs
    config["datasets"]["wordsim353"]["dir"] = "altered/combined.tab"
    assert datasets.check_configured(config, men_words, tmp_path, men_dir)["wordsim353"]["file"] == str(
        altered / "combined.tab")
    monkeypatch.setenv("EXPERTALIGN_WORDSIM_DIR", str(WORDSIM_DIR))
    assert datasets.check_configured(config, men_words, tmp_path, men_dir)["wordsim353"]["file"] == str(
        WORDSIM_DIR / "wordsim353.tsv")
    # nothing found and no download with a sha1
    config["datasets"]["names"] = ["simlex999"]
    config["datasets"]["simlex999"]["search_dirs"] = ["altered"]
    with pytest.raises(DatasetError, match=r"simlex999: no local file .*search_dirs"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)


def test_user_datasets_with_and_without_ceiling(men_dir, men_words, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "plain.tsv").write_text("word1\tword2\tscore\ndog\tcat\t7\nxqzzy\tcat\t1\n")
    (tmp_path / "data" / "rated.csv").write_text("word1,word2,score,pos\nrun,walk,4.5,v\n")
    config = _validated({"names": ["rated", "plain"],
                         "user": {"plain": "data/plain.tsv", "rated": {"path": "data/rated.csv", "ceiling": 0.7}}},
                        men_dir)
    sources = datasets.check_configured(config, men_words, tmp_path, men_dir)
    assert list(sources) == ["rated", "plain"]
    assert sources["rated"] == {
        "name": "rated", "file": str(tmp_path / "data" / "rated.csv"), "split": None,
        "sha1": hashlib.sha1(b"word1,word2,score,pos\nrun,walk,4.5,v\n").hexdigest(), "pos_rule": "wordnet",
        "ceiling": 0.7, "ceiling_source": "config datasets.user.rated.ceiling",
    }
    assert sources["plain"]["ceiling"] is None and sources["plain"]["file"] == str(tmp_path / "data" / "plain.tsv")
    assert datasets.load_source(sources["rated"]).to_dict("list") == {
        "word1": ["run-v"], "word2": ["walk-v"], "score": [4.5], "pos_source": ["given"]}


def test_load_source_refuses_a_file_changed_since_parse(men_dir, men_words, tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("word1\tword2\tscore\ndog\tcat\t7\n")
    config = _validated({"names": ["mine"], "user": {"mine": str(path)}}, men_dir)
    source = datasets.check_configured(config, men_words, tmp_path, men_dir)["mine"]
    path.write_text("word1\tword2\tscore\ndog\tcat\t8\n")
    with pytest.raises(DatasetError, match=rf"dataset 'mine': {path} changed since the workflow was parsed"):
        datasets.load_source(source)


@pytest.mark.parametrize(
    "text, message",
    [
        ("first\tsecond\tscore\ndog\tcat\t1\n", r"{path}:1: bad header"),
        ("word1\tword2\tpos\ndog\tcat\tn\n", r"{path}:1: header lacks column\(s\) \['score'\]"),
        ("word1\tword2\tscore\ndog\tcat\t1\nbird\tcat\n", r"{path}:3: expected 3 fields, got 2"),
        ("# c\nword1\tword2\tscore\ndog\tcat\t1\nbird\tcat\tmany\n", r"{path}:4: score 'many' is not a number"),
        ("word1\tword2\tscore\tpos\ndog\tcat\t1\tq\n", r"{path}:2: POS 'q' is not one of"),
        ("word1\tword2\tscore\ndog\tcat-\t1\n", r"{path}:2: bad concept id 'cat--n'"),
        ("word1\tword2\tscore\nxqzzy\tqwzzy\t1\ndog\txqzzy\t2\n",
         r"dataset 'bad': none of the 2 pairs of {path} has both words among the \d+ words of the 751 configured"),
    ],
)
def test_check_configured_stops_on_a_malformed_user_file(men_dir, men_words, tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    config = _validated({"names": ["men", "bad"], "user": {"bad": str(path)}}, men_dir)
    with pytest.raises(DatasetError, match=message.format(path=path)):
        datasets.check_configured(config, men_words, tmp_path, men_dir)


def test_check_configured_stops_on_builtin_problems(men_dir, men_words, tmp_path):
    (tmp_path / "wordsim353.tsv").write_bytes((WORDSIM_DIR / "wordsim353.tsv").read_bytes().replace(b"6.77", b"6.78"))
    config = _validated({"names": ["wordsim353"], "wordsim353": {"dir": str(tmp_path)}}, men_dir)
    with pytest.raises(DatasetError, match=rf"wordsim353 file {tmp_path / 'wordsim353.tsv'} failed its sha1 check"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)
    (tmp_path / "SimLex-999.txt").write_text("# c\nold\tnew\t1.58\nsmart\tintelligent\tnine\n")
    config = _validated({"names": ["simlex999"], "simlex999": {"dir": str(tmp_path)}}, men_dir)
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'SimLex-999.txt'}:3: score 'nine' is not a number"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)
    config = _validated({}, men_dir)
    with pytest.raises(DatasetError, match=rf"dataset 'men': none of the 1000 pairs of {men_dir.absolute()} "):
        datasets.check_configured(config, ["xqzzy-n", "dog-n"], tmp_path, men_dir)
    config["datasets"]["names"] = ["men", "simlex"]
    with pytest.raises(DatasetError, match="datasets.names: unknown dataset 'simlex'"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)
    config = _validated({"user": {"wordsim353": "x.tsv"}}, men_dir)
    with pytest.raises(DatasetError, match="datasets.user.wordsim353: the name is a built-in dataset"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)
    config = _validated({"names": ["mine"], "user": {"mine": "absent.tsv"}}, men_dir)
    with pytest.raises(DatasetError, match=rf"datasets.user.mine: file missing: {tmp_path / 'absent.tsv'}"):
        datasets.check_configured(config, men_words, tmp_path, men_dir)


def test_check_configured_imports_no_nltk_and_is_fast(men_dir):
    """Parse time: the check of the three shared datasets loads neither nltk nor another heavy library and
    takes well under 0.3 s (measured: about 0.03 s on 2 cores)."""
    import subprocess
    import sys

    code = f"""
import sys, time
from snakemake.utils import validate
from expertalign import datasets
from expertalign.concepts import men_concepts
config = {{"models": {{"m": {{"source": "all-minilm-l6-v2"}}}}, "concepts": {{"men": {{"dir": {str(men_dir)!r}}}}},
          "datasets": {{"names": ["men", "simlex999", "wordsim353"],
                       "simlex999": {{"search_dirs": [{str(SIMLEX_DIR)!r}]}},
                       "wordsim353": {{"dir": {str(WORDSIM_DIR)!r}}}}}}}
validate(config, {str(SCHEMA_PATH)!r}, set_default=True)
concepts = men_concepts({str(men_dir)!r})
start = time.perf_counter()
sources = datasets.check_configured(config, concepts, ".", {str(men_dir)!r})
elapsed = time.perf_counter() - start
heavy = {{"nltk", "torch", "scipy", "sklearn", "transformers", "matplotlib"}}
print(len(sources), sorted({{m.split(".")[0] for m in sys.modules}} & heavy), elapsed)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["3", "[]"], out
    assert float(out[2]) < 0.3, f"check_configured took {out[2]} s"


def test_the_parse_time_pair_check_ignores_pos(men_dir, tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("word1\tword2\tscore\tpos\nDog\tcat\t7\tn\n")
    config = _validated({"names": ["mine"], "user": {"mine": str(path)}}, men_dir)
    assert list(datasets.check_configured(config, ["dog-v", "cat-j"], tmp_path, men_dir)) == ["mine"]
    with pytest.raises(DatasetError, match=rf"none of the 1 pairs of {path} .* 1 words of the 2 configured"):
        datasets.check_configured(config, ["dog-v", "dog-n"], tmp_path, men_dir)
