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
    pairs = datasets.load_men_pairs(men_dir, [], "unused", "full")
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
    assert list(datasets.load_configured(config)) == ["men"]


def test_configured_builtin_and_user_datasets(men_dir, tmp_path):
    user = tmp_path / "mine.csv"
    user.write_text("word1,word2,score,pos\ndog,cat,7,n\n")
    config = _validated({"names": ["wordsim353", "mine"], "wordsim353": {"dir": str(WORDSIM_DIR)},
                         "user": {"mine": str(user)}}, men_dir)
    loaded = datasets.load_configured(config)
    assert list(loaded) == ["wordsim353", "mine"]
    assert len(loaded["wordsim353"]) == 347 and loaded["mine"]["word1"].tolist() == ["dog-n"]
    config["datasets"]["names"] = ["simlex"]
    with pytest.raises(DatasetError, match="datasets.names: unknown dataset 'simlex'"):
        datasets.load_configured(config)


def test_schema_rejects_a_url_entry_without_sha1_key(men_dir):
    with pytest.raises(Exception, match="sha1"):
        _validated({"simlex999": {"urls": [{"url": "https://x/y.zip", "file": "SimLex-999.txt"}]}}, men_dir)
