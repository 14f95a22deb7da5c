"""Tests for expertalign.lexical: bag-of-words similarity of sentence pools."""

import numpy as np
import pytest

from expertalign.lexical import lexical_similarity, pool_document

POOLS = {
    "dog-n": [
        "The dog barked at the mailman.",
        "Dogs love a long walk in the park.",
        "A dog's bark woke me.",
    ],
    "cat-n": ["The cat slept in the park.", "Cats love a warm lap and a long nap."],
    "swim-v": ["She swims across the cold lake.", "They were swimming in the sea at dawn."],
}


def test_pool_document_removes_own_word_and_inflections_only():
    text = pool_document("dog-n", POOLS["dog-n"] + ["My cat chased the DOGS."]).lower()
    words = set(text.replace(".", " ").replace("'", " ").split())
    assert not words & {"dog", "dogs", "dog's"}
    assert {"barked", "cat", "mailman", "bark"} <= words
    verb = pool_document("swim-v", POOLS["swim-v"]).lower()
    assert "swimming" not in verb and "swims" not in verb and "lake" in verb


def test_pool_document_rejects_empty_pool():
    with pytest.raises(ValueError, match="cat-n"):
        pool_document("cat-n", [])


@pytest.mark.parametrize("weighting", ["tfidf", "count"])
def test_lexical_similarity_shape_symmetry_and_ordering(weighting):
    concepts, matrix = lexical_similarity(POOLS, weighting=weighting)
    assert concepts == ["dog-n", "cat-n", "swim-v"]
    assert matrix.shape == (3, 3) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    # dog and cat pools share "love", "a", "long", "park"; the swim pool shares almost nothing
    assert matrix[0, 1] > matrix[0, 2] and matrix[0, 1] > matrix[1, 2]


def test_count_weighting_matches_hand_computed_cosine():
    pools = {"dog-n": ["red red blue dog"], "cat-n": ["red blue blue cats"]}
    _, matrix = lexical_similarity(pools, weighting="count")
    a, b = np.array([2.0, 1.0]), np.array([1.0, 2.0])  # (red, blue) counts, concept words removed
    assert matrix[0, 1] == pytest.approx(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_identical_pools_up_to_the_concept_word_are_identical():
    pools = {
        "dog-n": ["I walk the dog daily."],
        "cat-n": ["I walk the cat daily."],
        "tall-j": ["Trees grow."],
    }
    _, matrix = lexical_similarity(pools, weighting="tfidf")
    assert matrix[0, 1] == pytest.approx(1.0)
    assert matrix[0, 2] == pytest.approx(0.0)


def test_pool_of_only_the_concept_word_has_zero_similarity():
    _, matrix = lexical_similarity({"dog-n": ["Dogs. Dog!"], "cat-n": ["A cat."]}, weighting="count")
    assert matrix[0, 1] == 0.0 and matrix[0, 0] == 0.0


def test_bad_weighting_and_too_few_pools():
    with pytest.raises(ValueError, match="weighting"):
        lexical_similarity(POOLS, weighting="bm25")
    with pytest.raises(ValueError, match="two"):
        lexical_similarity({"dog-n": ["a dog"]})
