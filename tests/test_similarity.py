"""Tests for expertalign.similarity: Jaccard and cosine matrices and MEN pair look-up."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import jaccard_score
from sklearn.metrics.pairwise import cosine_similarity

from expertalign.similarity import (
    cosine_from_gram,
    expert_jaccard,
    expert_jaccards,
    expert_mask,
    jaccard_matrix,
    pair_similarities,
    score_grams,
    unit_chunks,
)


def cosine_matrices(x, center, chunk=1000):
    """(raw, centred) cosines from score_grams' one pass."""
    raw, centered, _ = score_grams(x, center, chunk)
    return cosine_from_gram(raw), cosine_from_gram(centered)


def test_jaccard_matrix_hand_built_sets():
    mask = np.array(
        [
            [1, 1, 0, 0],  # {0, 1}
            [0, 1, 1, 0],  # {1, 2}
            [0, 0, 0, 0],  # empty
            [0, 0, 0, 0],  # empty
        ],
        dtype=bool,
    )
    jac = jaccard_matrix(mask)
    assert jac.dtype == np.float64 and jac.shape == (4, 4)
    assert jac[0, 1] == pytest.approx(1 / 3)
    assert jac[0, 0] == 1.0
    assert jac[2, 3] == 0.0 and jac[2, 2] == 0.0  # empty union -> 0
    assert jac[0, 2] == 0.0


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_jaccard_matrix_matches_sklearn_for_any_chunk(chunk):
    rng = np.random.default_rng(0)
    mask = rng.random((6, 50)) < 0.3
    jac = jaccard_matrix(mask, chunk=chunk)
    for a in range(6):
        for b in range(6):
            expected = jaccard_score(mask[a], mask[b], zero_division=0.0)
            assert jac[a, b] == pytest.approx(expected)


@pytest.mark.parametrize("chunk", [5, 1000])
def test_expert_jaccard_equals_jaccard_of_expert_mask(chunk):
    rng = np.random.default_rng(4)
    scores = rng.random((7, 60)).astype(np.float32)
    scores[3] = 0.1  # an empty expert set
    jac, sizes = expert_jaccard(scores, 0.6, chunk=chunk)
    np.testing.assert_array_equal(jac, jaccard_matrix(expert_mask(scores, 0.6)))
    np.testing.assert_array_equal(sizes, (scores > 0.6).sum(axis=1))
    assert sizes[3] == 0


def test_expert_mask_is_strict():
    scores = np.array([[0.5, 0.50001, 0.4]], dtype=np.float32)
    assert expert_mask(scores, 0.5).tolist() == [[False, True, False]]


@pytest.mark.parametrize("chunk", [3, 1000])
def test_cosine_matrix_matches_sklearn_raw_and_centred(chunk):
    rng = np.random.default_rng(1)
    x = rng.random((5, 40)).astype(np.float32)
    np.testing.assert_allclose(cosine_matrices(x, 0.0, chunk=chunk)[1], cosine_similarity(x), atol=1e-6)
    np.testing.assert_allclose(cosine_matrices(x, 0.5, chunk=chunk)[1], cosine_similarity(x - 0.5), atol=1e-6)


def test_cosine_matrix_zero_norm_row_gives_zero():
    x = np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]], dtype=np.float32)
    cos = cosine_matrices(x, 0.5)[1]
    assert np.all(cos[0] == 0.0) and np.all(cos[:, 0] == 0.0)
    assert cos[1, 2] == pytest.approx(1.0)


def test_unit_chunks_cover_all_units():
    slices = list(unit_chunks(10, 4))
    assert [(s.start, s.stop) for s in slices] == [(0, 4), (4, 8), (8, 10)]
    with pytest.raises(ValueError):
        list(unit_chunks(10, 0))


def test_pair_similarities_looks_up_present_pairs_and_flags_empty_unions():
    concepts = ["dog-n", "cat-n", "red-j", "run-v"]
    mask = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]], dtype=bool)
    pairs = pd.DataFrame(
        {
            "word1": ["dog-n", "red-j", "dog-n", "cat-n"],
            "word2": ["cat-n", "run-v", "unknown-n", "red-j"],
            "score": [40.0, 5.0, 30.0, 10.0],
        }
    )
    table = pair_similarities(jaccard_matrix(mask), concepts, pairs, undefined=np.logical_and.outer(mask.sum(axis=1) == 0, mask.sum(axis=1) == 0))
    assert list(table.columns) == ["word1", "word2", "score", "similarity", "empty_union"]
    assert list(table["word1"]) == ["dog-n", "red-j", "cat-n"]  # the unknown pair is left out
    np.testing.assert_allclose(table["similarity"], [1 / 3, 0.0, 0.0])
    assert table["empty_union"].tolist() == [False, True, False]
    without_sizes = pair_similarities(jaccard_matrix(mask), concepts, pairs)
    assert not without_sizes["empty_union"].any()


def test_pair_similarities_rejects_bad_input():
    pairs = pd.DataFrame({"word1": ["a"], "word2": ["b"], "score": [1.0]})
    with pytest.raises(ValueError, match="shape"):
        pair_similarities(np.eye(3), ["a", "b"], pairs)
    with pytest.raises(ValueError, match="duplicate"):
        pair_similarities(np.eye(2), ["a", "a"], pairs)
    with pytest.raises(ValueError, match="score"):
        pair_similarities(np.eye(2), ["a", "b"], pairs.drop(columns="score"))


@pytest.mark.parametrize("chunk", [7, 1000])
def test_expert_jaccards_one_pass_equals_each_tau_alone(chunk):
    rng = np.random.default_rng(5)
    scores = rng.random((6, 90)).astype(np.float32)
    taus = [0.5, 0.7, 0.9]
    together = expert_jaccards(scores, taus, chunk=chunk)
    assert list(together) == taus
    for tau in taus:
        np.testing.assert_array_equal(together[tau][0], jaccard_matrix(expert_mask(scores, tau)))
        np.testing.assert_array_equal(together[tau][1], (scores > tau).sum(axis=1))


@pytest.mark.parametrize("chunk", [4, 1000])
def test_cosine_matrices_raw_from_the_centred_gram_match_sklearn(chunk):
    """Near-chance scores (AUROC of an untrained model) are where deriving one Gram matrix from the other could lose digits."""
    rng = np.random.default_rng(2)
    x = (0.5 + 0.01 * rng.standard_normal((6, 5000))).astype(np.float32)
    x[0] = 0.0  # a zero raw row
    raw, centered = cosine_matrices(x, 0.5, chunk=chunk)
    np.testing.assert_allclose(raw, cosine_similarity(x.astype(np.float64)), atol=1e-6)
    np.testing.assert_allclose(centered, cosine_similarity(x.astype(np.float64) - 0.5), atol=1e-6)
    assert np.all(raw[0] == 0.0)
