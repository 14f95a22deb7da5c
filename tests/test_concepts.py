"""Tests of expertalign.concepts: concept ids, MEN (local and downloaded), hierarchy, lists."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from expertalign import concepts
from expertalign.concepts import (
    MEN_FILES,
    ConceptError,
    MENError,
    concept_list,
    fetch_men,
    load_hierarchy,
    load_men,
    parse_concept,
    resolve_men,
)

HIERARCHY = Path(__file__).resolve().parents[1] / "resources" / "hierarchy_domains.tsv"


@pytest.fixture
def no_men_env(monkeypatch):
    monkeypatch.delenv(concepts.MEN_DIR_ENV, raising=False)


# ------------------------------------------------------------------ concept ids


@pytest.mark.parametrize(
    "concept_id, expected",
    [("dog-n", ("dog", "n")), ("swim-v", ("swim", "v")), ("tall-j", ("tall", "j")),
     ("t-shirt-n", ("t-shirt", "n")), ("ice_cream-n", ("ice_cream", "n"))],
)
def test_parse_concept_splits_word_and_pos(concept_id, expected):
    assert parse_concept(concept_id) == expected


@pytest.mark.parametrize("bad", ["dog", "dog-x", "dog-a", "-n", "dog -n", "dog-n ", "", "dog--n"])
def test_parse_concept_rejects_bad_ids_naming_them(bad):
    with pytest.raises(ConceptError, match="bad concept id"):
        parse_concept(bad)


# ------------------------------------------------------------------ MEN, local


@pytest.mark.parametrize(
    "split, n_pairs, first",
    [("dev", 2000, ["berry-n", "seed-n", 37.0]), ("test", 1000, ["display-n", "pond-n", 10.0]),
     ("full", 3000, ["sun-n", "sunlight-n", 50.0])],
)
def test_load_men_reads_every_split(split, n_pairs, first, men_dir):
    pairs = load_men(men_dir, split)
    assert list(pairs.columns) == ["word1", "word2", "score"]
    assert len(pairs) == n_pairs
    assert pairs["score"].between(0, 50).all()
    assert pairs.iloc[0].tolist() == first


def test_men_full_has_751_lemmas_and_test_639(men_dir):
    assert len(concepts.men_concepts(men_dir, "full")) == 751
    assert len(concepts.men_concepts(men_dir, "test")) == 639


def test_load_men_rejects_a_modified_file_naming_it_and_both_hashes(tmp_path, men_dir):
    name, sha1 = MEN_FILES["test"]
    data = (men_dir / name).read_bytes().replace(b"sun-n", b"moon-n", 1)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(MENError) as caught:
        load_men(tmp_path, "test")
    message = str(caught.value)
    assert name in message and sha1 in message and hashlib.sha1(data).hexdigest() in message


def test_load_men_accepts_a_header_line_and_names_a_missing_file(tmp_path, men_dir):
    name, _ = MEN_FILES["test"]
    (tmp_path / name).write_bytes(b"word1 word2 score\n" + (men_dir / name).read_bytes())
    assert len(load_men(tmp_path, "test")) == 1000
    with pytest.raises(MENError, match="MEN_dataset_lemma_form.dev"):
        load_men(tmp_path, "dev")


def test_load_men_rejects_an_unknown_split(tmp_path):
    with pytest.raises(MENError, match="unknown MEN split 'train'"):
        load_men(tmp_path, "train")


def test_men_dir_prefers_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(concepts.MEN_DIR_ENV, raising=False)
    assert concepts.men_dir(None) is None
    assert concepts.men_dir("config/men") == Path("config/men")
    monkeypatch.setenv(concepts.MEN_DIR_ENV, str(tmp_path))
    assert concepts.men_dir("config/men") == tmp_path


# ------------------------------------------------------------------ MEN, download


def _archive(men_dir: Path, kind: str, corrupt: str | None = None, header: bool = False) -> bytes:
    """A MEN archive (tar.gz or zip) of the files in men_dir under MEN/, one maybe corrupted."""
    members = {}
    for name, _ in MEN_FILES.values():
        data = (men_dir / name).read_bytes()
        if header:
            data = b"word1 word2 score\n" + data
        if name == corrupt:
            data = data.replace(b"50.000000", b"49.000000", 1)
        members[f"MEN/{name}"] = data
    buffer = io.BytesIO()
    if kind == "tar.gz":
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        with zipfile.ZipFile(buffer, "w") as zipped:
            for member, data in members.items():
                zipped.writestr(member, data)
    return buffer.getvalue()


@pytest.fixture
def http_folder(tmp_path):
    """A real http.server on 127.0.0.1 serving tmp_path/www; yields (folder, base url)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("kind, header", [("tar.gz", False), ("zip", True)])
def test_fetch_men_downloads_unpacks_and_verifies(http_folder, tmp_path, kind, header, men_dir):
    www, base = http_folder
    (www / f"MEN.{kind}").write_bytes(_archive(men_dir, kind, header=header))
    cache = tmp_path / "cache"
    folder = fetch_men([f"{base}/missing.tar.gz", f"{base}/MEN.{kind}"], cache)
    assert folder == cache
    for split in MEN_FILES:
        pd.testing.assert_frame_equal(load_men(folder, split), load_men(men_dir, split))
    (www / f"MEN.{kind}").unlink()  # a second call uses the verified cache, no download
    assert fetch_men([f"{base}/MEN.{kind}"], cache) == cache


def test_fetch_men_rejects_a_corrupted_archive_naming_file_and_hashes(http_folder, tmp_path, men_dir):
    www, base = http_folder
    name, sha1 = MEN_FILES["full"]
    (www / "MEN.tar.gz").write_bytes(_archive(men_dir, "tar.gz", corrupt=name))
    with pytest.raises(MENError) as caught:
        fetch_men([f"{base}/MEN.tar.gz"], tmp_path / "cache")
    assert name in str(caught.value) and sha1 in str(caught.value)
    assert not (tmp_path / "cache" / name).exists()


def test_fetch_men_reports_every_failed_url(http_folder, tmp_path):
    www, base = http_folder
    (www / "notes.txt").write_text("not an archive")
    with pytest.raises(MENError) as caught:
        fetch_men([f"{base}/nothing.tar.gz", f"{base}/notes.txt"], tmp_path / "cache")
    assert "nothing.tar.gz" in str(caught.value) and "neither a tar nor a zip" in str(caught.value)


def test_resolve_men_uses_the_local_folder_without_downloading(no_men_env, tmp_path, men_dir):
    assert resolve_men(men_dir, urls=[], cache_dir=tmp_path / "unused") == men_dir
    assert not (tmp_path / "unused").exists()
    with pytest.raises(MENError, match="MEN file missing"):
        resolve_men(tmp_path, urls=[], cache_dir=tmp_path)



def test_resolve_men_takes_the_first_search_folder_whose_checksums_pass(no_men_env, tmp_path, men_dir):
    altered = tmp_path / "altered"
    altered.mkdir()
    for name in ("MEN_dataset_lemma_form.dev", "MEN_dataset_lemma_form.test", "MEN_dataset_lemma_form_full"):
        (altered / name).write_bytes((men_dir / name).read_bytes() + b"x\n")
    found = resolve_men(None, urls=[], cache_dir=tmp_path / "unused", search_dirs=[tmp_path / "absent", altered, men_dir])
    assert found == men_dir and not (tmp_path / "unused").exists()
    with pytest.raises(MENError):  # no valid folder and no URL: the download step fails, naming MEN
        resolve_men(None, urls=[], cache_dir=tmp_path / "cache", search_dirs=[altered])

# ------------------------------------------------------------------ hierarchy and lists


def test_shipped_hierarchy_has_ten_domains_of_one_super_and_four_subs():
    table = load_hierarchy(HIERARCHY)
    assert list(table.columns) == ["domain", "role", "concept"]
    counts = table.groupby("domain")["role"].value_counts().unstack()
    assert len(counts) == 10
    assert (counts["super"] == 1).all() and (counts["sub"] == 4).all()
    assert table.loc[table["domain"] == "animal", "concept"].tolist()[0] == "animal-n"


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a\tsuper\tx-n\na\tsub\ty-q\n", r"hier.tsv:3: bad concept id 'y-q'"),
        ("a\tsuper\tx-n\na\tboss\ty-n\n", r"hier.tsv:3: role must be super or sub"),
        ("a\tsuper\tx-n\na\tsub\n", r"hier.tsv:3: expected 3 tab-separated"),
        ("a\tsuper\tx-n\na\tsuper\tz-n\na\tsub\ty-n\n", r"domain 'a' needs exactly one super"),
        ("a\tsuper\tx-n\n", r"domain 'a' needs exactly one super and at least one sub"),
    ],
)
def test_load_hierarchy_names_file_and_line_of_bad_rows(tmp_path, rows, message):
    path = tmp_path / "hier.tsv"
    path.write_text("domain\trole\tconcept\n" + rows)
    with pytest.raises(ConceptError, match=message):
        load_hierarchy(path)


def test_concept_list_men_plus_hierarchy_is_sorted_and_deduplicated(tmp_path, men_dir):
    extra = tmp_path / "extra.txt"
    extra.write_text("# my concepts\nzebra-n\n\ndog-n  # already in MEN\n")
    ids = concept_list("men+hierarchy", men_dir, HIERARCHY, extra=[extra])
    hierarchy = set(load_hierarchy(HIERARCHY)["concept"])
    men = set(concepts.men_concepts(men_dir, "full"))
    assert ids == sorted(men | hierarchy | {"zebra-n"})
    assert len(ids) == len(set(ids))


def test_concept_list_from_a_file_validates_ids_naming_line(tmp_path):
    good = tmp_path / "list.txt"
    good.write_text("swim-v\ndog-n\n# comment\n\ndog-n\n")
    assert concept_list(str(good), None, None) == ["dog-n", "swim-v"]
    bad = tmp_path / "bad.txt"
    bad.write_text("dog-n\ncat\n")
    with pytest.raises(ConceptError, match=r"bad.txt:2: bad concept id 'cat'"):
        concept_list(str(bad), None, None)


def test_builtin_concept_list_has_291_valid_ids():
    path = Path(__file__).resolve().parents[1] / "resources" / "concepts" / "builtin.txt"
    ids = concept_list(str(path), None, None)
    assert len(ids) == 291
    assert set(load_hierarchy(HIERARCHY)["concept"]) <= set(ids)

