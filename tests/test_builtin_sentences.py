"""The built-in sentence set obeys every rule of its issue: counts, word presence, length, diversity."""

import json
import re
from collections import Counter, defaultdict

import pytest

from expertalign.concepts import parse_concept
from expertalign.generation import BuiltinBackend, generate_pool
from expertalign.wordnet import mentions_concept

KEYS = {"concept", "word", "pos", "definition", "prompt", "sentence", "generator"}


@pytest.fixture(scope="module")
def records(repo):
    path = repo / "resources" / "sentences" / "builtin.jsonl"
    with open(path) as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def by_concept(records):
    grouped = defaultdict(list)
    for record in records:
        grouped[record["concept"]].append(record)
    return grouped


def test_every_listed_concept_has_20_fact_and_20_story_sentences(repo, by_concept):
    concepts = repo / "resources" / "concepts"
    listed = (concepts / "builtin.txt").read_text().split()
    assert len(listed) == 291
    assert sorted(by_concept) == sorted(listed)
    for concept, rows in by_concept.items():
        assert Counter(r["prompt"] for r in rows) == {"fact": 20, "story": 20}, concept


def test_records_carry_the_documented_fields(records):
    for record in records:
        assert set(record) == KEYS
        word, pos = parse_concept(record["concept"])
        assert (record["word"], record["pos"]) == (word, pos)
        assert record["definition"].strip() and record["generator"].strip()


def test_each_sentence_names_its_concept(records):
    missing = [r["sentence"] for r in records if not mentions_concept(r["sentence"], r["word"], r["pos"])]
    assert missing == []


def test_each_sentence_is_one_complete_sentence_of_8_to_30_words(records):
    for record in records:
        sentence = record["sentence"]
        assert 8 <= len(sentence.split()) <= 30, sentence
        assert sentence == sentence.strip() and "\n" not in sentence
        assert sentence[-1] in ".!?" and sentence[0].isupper(), sentence
        assert not re.match(r"^\s*(\d+[.)]|[-*•])\s", sentence), sentence


def test_no_duplicates_and_no_shared_opening_three_words(by_concept):
    for concept, rows in by_concept.items():
        sentences = [r["sentence"].lower() for r in rows]
        assert len(set(sentences)) == len(sentences), concept
        openings = Counter(" ".join(re.findall(r"[\w'-]+", s)[:3]) for s in sentences)
        assert openings.most_common(1)[0][1] == 1, (concept, openings.most_common(2))


def test_one_definition_per_concept(by_concept):
    for concept, rows in by_concept.items():
        assert len({r["definition"] for r in rows}) == 1, concept


def test_builtin_backend_serves_a_balanced_pool(repo):
    backend = BuiltinBackend(repo / "resources" / "sentences" / "builtin.jsonl")
    pool = generate_pool(backend, "dog-n", None, pool_size=10)
    assert len(pool) == 10
    assert Counter(r["prompt"] for r in pool) == {"fact": 5, "story": 5}
    assert all(mentions_concept(r["sentence"], "dog", "n") for r in pool)


def test_definitions_are_the_senses_the_prompts_use(repo, by_concept):
    """Each concept's recorded definition is WordNet's first sense, or the shipped override."""
    from expertalign.concepts import load_sense_overrides
    from expertalign.wordnet import WordNetUnavailable, definition, wordnet_reader

    try:
        wordnet_reader()
    except WordNetUnavailable:
        pytest.skip("WordNet is not installed (apt-get install wordnet-base)")
    overrides = load_sense_overrides(repo / "resources" / "sense_overrides.tsv")
    for concept, rows in by_concept.items():
        assert rows[0]["definition"] == definition(concept, overrides), concept


def test_the_builtin_concepts_cover_the_three_datasets(repo, men_dir):
    """Issue 15: the embedded default reports SimLex-999 and WordSim-353 on enough pairs."""
    from expertalign.concepts import load_men
    from expertalign.datasets import load_dataset, pairs_among

    concepts = (repo / "resources" / "concepts" / "builtin.txt").read_text().split()
    shared = men_dir.parent
    counts = {
        "men": len(pairs_among(load_men(men_dir, "full"), concepts, "men")),
        "simlex999": len(pairs_among(load_dataset("simlex999", shared / "SimLex-999"), concepts, "simlex999")),
        "wordsim353": len(pairs_among(load_dataset("wordsim353", shared / "WordSim-353"), concepts, "wordsim353")),
    }
    assert counts["men"] >= 485 and counts["simlex999"] >= 100 and counts["wordsim353"] >= 60, counts
