"""Tests of expertalign.wordnet: the offline reader, definitions, sense overrides, inflections."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import nltk
import pytest

from expertalign import wordnet
from expertalign.concepts import ConceptError, load_sense_overrides
from expertalign.wordnet import (
    definition,
    inflections,
    mentions_concept,
    wordnet_reader,
)

DEBIAN = wordnet.DEBIAN_WORDNET
OVERRIDES = Path(__file__).resolve().parents[1] / "resources" / "sense_overrides.tsv"
needs_wordnet = pytest.mark.skipif(
    not (DEBIAN / "data.noun").is_file(), reason="Debian wordnet-base not installed"
)


@pytest.fixture
def wordnet_copy(tmp_path):
    """A WordNet folder laid out like Debian's: no lexnames, plus a symlinked subfolder."""
    source = tmp_path / "wn-source"
    source.mkdir()
    for name in wordnet.REQUIRED_FILES:
        shutil.copyfile(DEBIAN / name, source / name)
    (tmp_path / "outside").mkdir()
    (source / "bin").symlink_to(tmp_path / "outside")
    return source


def test_lexnames_is_the_standard_45_line_file():
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


@needs_wordnet
def test_reader_copies_a_debian_folder_into_the_cache_once(wordnet_copy, tmp_path, monkeypatch):
    monkeypatch.setenv(wordnet.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    reader = wordnet_reader(wordnet_copy)
    (copy,) = (tmp_path / "cache").iterdir()
    assert copy.name.startswith("wordnet-3.0-")
    assert (copy / "lexnames").read_text() == wordnet.lexnames_text()
    assert not (copy / "bin").exists()  # only plain files are copied
    assert str(copy) in nltk.data.path
    dog = reader.synsets("dog", "n")[0]
    assert dog.name() == "dog.n.01" and dog.lexname() == "noun.animal"
    assert reader.map_wn() is None
    assert wordnet_reader(wordnet_copy) is reader  # built once per source


@needs_wordnet
def test_reader_prefers_an_nltk_data_corpus(wordnet_copy, tmp_path, monkeypatch):
    corpus = tmp_path / "nltk_data" / "corpora" / "wordnet"
    shutil.copytree(wordnet_copy, corpus, ignore=shutil.ignore_patterns("bin"))
    (corpus / "lexnames").write_text(wordnet.lexnames_text())
    monkeypatch.delenv(wordnet.WORDNET_DIR_ENV, raising=False)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nltk_data")])
    wordnet._reader_for.cache_clear()
    try:
        reader = wordnet_reader()
        assert Path(str(reader.root)) == corpus
        assert reader.synset("plant.n.02").definition().startswith("(botany) a living organism")
    finally:
        wordnet._reader_for.cache_clear()


def test_missing_wordnet_gives_no_definition_and_a_warning(tmp_path, caplog):
    with pytest.raises(wordnet.WordNetUnavailable, match="no WordNet dict"):
        wordnet_reader(tmp_path)
    with caplog.at_level(logging.WARNING, logger="expertalign.wordnet"):
        assert definition("dog-n", source=tmp_path) is None
    assert "WordNet unavailable" in caplog.text
    assert definition("band-n", {"band-n": "a group of musicians"}, source=tmp_path) == (
        "a group of musicians"
    )


@needs_wordnet
@pytest.mark.parametrize(
    "concept, starts",
    [
        ("dog-n", "a member of the genus Canis"),
        ("plant-n", "buildings for carrying on industrial labor"),  # WordNet's first sense
        ("swim-v", "travel through water"),
        ("tall-j", "great in vertical dimension"),
        ("underground-j", "under the level of the ground"),  # a satellite adjective (s)
        ("jeans-n", "(usually plural) close-fitting trousers"),  # via morphy: jean.n.01
    ],
)
def test_definition_is_the_first_synset_for_the_pos(concept, starts):
    assert definition(concept).startswith(starts)


@needs_wordnet
def test_definition_of_an_unknown_word_is_none_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="expertalign.wordnet"):
        assert definition("flibbertigibbetish-j") is None
    assert "no WordNet synset for flibbertigibbetish-j" in caplog.text


@needs_wordnet
def test_overrides_use_the_named_synset_or_the_text_verbatim():
    overrides = {"plant-n": "plant.n.02", "band-n": "a group of musicians who play together"}
    assert definition("plant-n", overrides).startswith("(botany) a living organism")
    assert definition("band-n", overrides) == "a group of musicians who play together"
    with pytest.raises(ConceptError, match=r"plant-n: no WordNet synset 'plant.n.99'"):
        definition("plant-n", {"plant-n": "plant.n.99"})


@needs_wordnet
def test_shipped_sense_overrides_all_resolve():
    overrides = load_sense_overrides(OVERRIDES)
    assert overrides["table-n"] == "table.n.02"
    assert overrides["band-n"] == "a group of musicians who play music together"
    for concept in overrides:
        assert definition(concept, overrides)
    assert "furniture" in definition("table-n", overrides)
    assert definition("colour-n", overrides) != definition("colour-n")


@pytest.mark.parametrize(
    "text, message",
    [
        ("concept\tsense\ndog\tdog.n.01\n", r"ov.tsv:2: bad concept id 'dog'"),
        ("concept\tsense\ndog-n\t\n", r"ov.tsv:2: expected 'concept<TAB>sense'"),
        ("concept\tsense\ndog-n\tdog.n.01\ndog-n\tdog.n.02\n", r"ov.tsv:3: dog-n is overridden twice"),
        ("word\tsense\n", r"ov.tsv:1: header"),
    ],
)
def test_load_sense_overrides_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "ov.tsv"
    path.write_text(text)
    with pytest.raises(ConceptError, match=message):
        load_sense_overrides(path)


@needs_wordnet
@pytest.mark.parametrize(
    "word, pos, expected",
    [
        ("swim", "v", {"swim", "swims", "swam", "swum", "swimming"}),
        ("bear", "v", {"bears", "bore", "borne", "bearing"}),
        ("fly", "v", {"flies", "flew", "flown", "flying"}),
        ("live", "v", {"lives", "lived", "living"}),
        ("lie", "v", {"lies", "lying", "lay", "lain"}),
        ("lick", "v", {"licks", "licked", "licking"}),
        ("carry", "v", {"carries", "carried", "carrying"}),
        ("dog", "n", {"dog", "dogs", "dog's", "dogs'"}),
        ("child", "n", {"children", "children's"}),
        ("wolf", "n", {"wolves"}),
        ("box", "n", {"boxes"}),
        ("city", "n", {"cities"}),
        ("big", "j", {"bigger", "biggest"}),
        ("tall", "j", {"taller", "tallest"}),
        ("blonde", "j", {"blonder", "blondest"}),
        ("good", "j", {"better", "best"}),
    ],
)
def test_inflections_include_regular_and_irregular_forms(word, pos, expected):
    assert expected <= inflections(word, pos)


def test_inflections_do_not_double_where_english_does_not():
    assert {"singing", "sings"} <= inflections("sing", "v")
    assert "singging" not in inflections("sing", "v")
    assert "playied" not in inflections("play", "v") and "played" in inflections("play", "v")
    with pytest.raises(ConceptError, match="bad POS 'x'"):
        inflections("dog", "x")


@needs_wordnet
@pytest.mark.parametrize(
    "sentence, word, pos, expected",
    [
        ("She swam across the lake at dawn.", "swim", "v", True),
        ("DOGS bark at night.", "dog", "n", True),
        ("The dog\u2019s bowl was empty.", "dog", "n", True),
        ("He ate two hotdogs and an underdog pie.", "dog", "n", False),
        ("Dogma is not a pet.", "dog", "n", False),
        ("The ice-cream melted.", "ice_cream", "n", True),
        ("They ate ice cream.", "ice_cream", "n", True),
        ("A tall-ish tower stood there.", "tall", "j", True),
        ("Nothing to see here.", "tall", "j", False),
    ],
)
def test_mentions_concept_matches_whole_words_case_insensitively(sentence, word, pos, expected):
    assert mentions_concept(sentence, word, pos) is expected
