"""AP and AUROC against scikit-learn (ties included), reused SortedNegatives, normalised AP, experts."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from expertalign.expertise import (
    SortedNegatives,
    auroc,
    average_precision,
    expert_mask,
)
from expertalign.scores import normalized_ap

BACKENDS = ["numpy", "torch"]  # torch is the GPU kernel, checked here on CPU tensors


def sklearn_scores(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit (AP, AUROC) with scikit-learn, the reference."""
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    values = np.concatenate([pos, neg])
    ap = np.array([average_precision_score(labels, values[:, u]) for u in range(values.shape[1])])
    auc = np.array([roc_auc_score(labels, values[:, u]) for u in range(values.shape[1])])
    return ap, auc


@st.composite
def tied_data(draw, max_rows: int = 12, max_units: int = 6):
    """(pos, neg) float32 with values from a few integers: ties everywhere."""
    n_pos = draw(st.integers(1, max_rows))
    n_neg = draw(st.integers(1, max_rows))
    n_units = draw(st.integers(1, max_units))
    levels = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, levels + 1, (n_pos, n_units)).astype(np.float32)
    neg = rng.integers(0, levels, (n_neg, n_units)).astype(np.float32)
    return pos, neg


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(data=tied_data(), chunk=st.integers(1, 4))
def test_scores_equal_sklearn_with_ties(backend, data, chunk):
    pos, neg = data
    ap, auc = SortedNegatives(neg, chunk_size=chunk, backend=backend).scores(pos)
    expected_ap, expected_auc = sklearn_scores(pos, neg)
    assert np.max(np.abs(ap.numpy() - expected_ap)) <= 1e-6
    assert np.max(np.abs(auc.numpy() - expected_auc)) <= 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
def test_negatives_sorted_once_score_several_positive_sets(backend):
    """A SortedNegatives reused for several positive sets gives each set's scikit-learn scores (ties included)."""
    rng = np.random.default_rng(3)
    neg = rng.integers(0, 5, (40, 25)).astype(np.float32)
    negatives = SortedNegatives(neg, backend=backend)
    for n_pos in (1, 7, 30):
        pos = rng.integers(0, 6, (n_pos, 25)).astype(np.float32)
        ap, auc = negatives.scores(pos)
        expected_ap, expected_auc = sklearn_scores(pos, neg)
        assert np.max(np.abs(ap.numpy() - expected_ap)) <= 1e-6
        assert np.max(np.abs(auc.numpy() - expected_auc)) <= 1e-6


@pytest.mark.parametrize("n_pos", [50, 300])  # short searches batched in torch, long ones looped in NumPy
def test_continuous_data_and_numpy_or_torch_inputs(n_pos):
    rng = np.random.default_rng(0)
    pos = rng.normal(0.3, 1, (n_pos, 40)).astype(np.float32)
    neg = rng.normal(0, 1, (200, 40)).astype(np.float32)
    neg[5:9, :3] = pos[:4, :3]  # a few exact ties in a few units
    expected_ap, expected_auc = sklearn_scores(pos, neg)
    from_numpy = average_precision(pos, neg)
    from_torch = average_precision(torch.from_numpy(pos), torch.from_numpy(neg), chunk_size=7)
    assert from_numpy.dtype == torch.float32 and from_numpy.shape == (40,)
    assert np.max(np.abs(from_numpy.numpy() - expected_ap)) <= 1e-6
    assert torch.equal(from_numpy, from_torch)
    assert np.max(np.abs(auroc(pos, neg).numpy() - expected_auc)) <= 1e-6


def test_known_answers():
    """Perfect separation: AP = AUROC = 1; identical distributions: AUROC ~ 0.5, normalised AP ~ 0."""
    rng = np.random.default_rng(1)
    separated_ap, separated_auc = SortedNegatives(rng.normal(0, 1, (300, 5)) - 10).scores(rng.normal(0, 1, (100, 5)))
    assert torch.all(separated_ap == 1) and torch.all(separated_auc == 1)
    for n_pos, n_neg in [(40, 100), (40, 300), (200, 600), (400, 400)]:
        pos, neg = rng.normal(0, 1, (n_pos, 1000)), rng.normal(0, 1, (n_neg, 1000))
        ap, auc = SortedNegatives(neg).scores(pos)
        assert abs(float(auc.mean()) - 0.5) < 0.01
        if n_pos >= 200:  # AP of a random ranking exceeds the positive rate by O(log(P) / P)
            assert abs(float(normalized_ap(ap.numpy(), n_pos, n_neg).mean())) < 0.02


def test_float64_inputs_keep_their_precision():
    pos = np.array([[1.0 + 1e-12], [0.0]])
    neg = np.array([[1.0], [0.5]])
    assert float(average_precision(pos, neg)[0]) == pytest.approx(average_precision_score([1, 1, 0, 0],
                                                                                          [1.0 + 1e-12, 0, 1, 0.5]))


def test_bad_inputs_are_rejected():
    neg = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        average_precision(np.full((2, 3), np.nan), neg)
    with pytest.raises(ValueError, match="units"):
        average_precision(np.zeros((2, 4)), neg)
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision(np.zeros((0, 3)), neg)
    with pytest.raises(ValueError, match="2-D"):
        average_precision(np.zeros(3), neg)
    with pytest.raises(ValueError, match="backend"):
        SortedNegatives(neg, backend="jax")


def test_no_negatives_gives_ap_one_and_undefined_auroc():
    ap, auc = SortedNegatives(np.zeros((0, 3))).scores(np.ones((2, 3)))
    assert torch.all(ap == 1) and torch.all(torch.isnan(auc))


def test_normalized_ap_per_concept_rows():
    ap = np.array([[0.5, 1.0, 2 / 7], [0.25, 1.0, 0.2]], dtype=np.float32)
    normalised = normalized_ap(ap, np.array([2, 1]), np.array([5, 3]))
    np.testing.assert_allclose(normalised, [[0.3, 1.0, 0.0], [0.0, 1.0, -1 / 15]], atol=1e-6)
    assert normalised.dtype == np.float32
    with pytest.raises(ValueError, match="n_pos"):
        normalized_ap(ap, 0, 5)


def test_expert_mask_is_strict():
    scores = np.array([[0.5, 0.51, 0.9], [0.2, 0.5, 0.7]])
    np.testing.assert_array_equal(expert_mask(scores, 0.5), [[False, True, True], [False, False, True]])
