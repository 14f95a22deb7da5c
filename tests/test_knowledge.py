"""Tests for expertalign.knowledge on small score matrices with known expert sets."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import jaccard_score

from expertalign.knowledge import (
    checkpoint_stability,
    count_experts,
    expert_counts,
    fold_stability,
    layer_distribution,
    rowwise_jaccard,
)

SCORES = np.array(
    [
        [0.95, 0.65, 0.55, 0.10],
        [0.40, 0.40, 0.40, 0.40],
        [0.75, 0.75, 0.60, 0.50],  # 0.50 is not above tau 0.5
    ],
    dtype=np.float32,
)
CONCEPTS = ["dog-n", "cat-n", "red-j"]


def test_expert_counts_per_concept_and_tau():
    table = expert_counts(SCORES, CONCEPTS, taus=[0.5, 0.7, 0.9])
    assert list(table.columns) == ["tau", "concept", "n_experts", "n_units", "fraction"]
    assert len(table) == 9
    counts = table.set_index(["tau", "concept"])["n_experts"]
    assert counts[(0.5, "dog-n")] == 3 and counts[(0.5, "cat-n")] == 0 and counts[(0.5, "red-j")] == 3
    assert counts[(0.7, "red-j")] == 2 and counts[(0.9, "dog-n")] == 1
    assert (table["n_units"] == 4).all()
    np.testing.assert_allclose(table["fraction"], table["n_experts"] / 4)


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_count_experts_chunking_matches_direct(chunk):
    rng = np.random.default_rng(0)
    scores = rng.random((5, 37)).astype(np.float32)
    taus = [0.3, 0.8]
    np.testing.assert_array_equal(
        count_experts(scores, taus, axis=1, chunk=chunk), [(scores > t).sum(axis=1) for t in taus]
    )
    np.testing.assert_array_equal(
        count_experts(scores, taus, axis=0, chunk=chunk), [(scores > t).sum(axis=0) for t in taus]
    )


def test_rowwise_jaccard_matches_sklearn_and_scores_empty_union_zero():
    rng = np.random.default_rng(1)
    a = rng.random((4, 50)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2, size=a.shape), 0, 1).astype(np.float32)
    b[3] = 0.0
    a[3] = 0.0
    rows = np.arange(4)
    jaccard, empty_union = rowwise_jaccard(a, rows, b, rows, taus=[0.5], chunk=7)
    jac = jaccard[0]
    for i in range(3):
        assert jac[i] == pytest.approx(jaccard_score(a[i] > 0.5, b[i] > 0.5))
    assert jac[3] == 0.0  # one rule everywhere: an empty union is Jaccard 0, and flagged
    assert empty_union[0].tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="different units"):
        rowwise_jaccard(a, rows, b[:, :10], rows, taus=[0.5])


def test_checkpoint_stability_consecutive_pairs_and_concept_matching():
    step1 = (["dog-n", "cat-n"], np.array([[0.9, 0.9, 0.1, 0.1], [0.9, 0.1, 0.1, 0.1]], dtype=np.float32))
    step2 = (["cat-n", "dog-n"], np.array([[0.9, 0.1, 0.1, 0.1], [0.9, 0.9, 0.9, 0.1]], dtype=np.float32))
    final = (["dog-n"], np.array([[0.9, 0.9, 0.9, 0.9]], dtype=np.float32))
    table = checkpoint_stability(
        {"final": final, "step1": step1, "step2": step2}, order=["step1", "step2", "final"], taus=[0.5]
    )
    assert list(table.columns) == ["checkpoint", "next_checkpoint", "tau", "concept", "jaccard", "empty_union"]
    assert not table["empty_union"].any()
    rows = {(r.checkpoint, r.concept): r.jaccard for r in table.itertuples()}
    assert rows == pytest.approx(
        {("step1", "dog-n"): 2 / 3, ("step1", "cat-n"): 1.0, ("step2", "dog-n"): 3 / 4}
    )
    with pytest.raises(ValueError, match="step3"):
        checkpoint_stability({"step1": step1}, order=["step1", "step3"], taus=[0.5])


def test_fold_stability_all_fold_pairs():
    rng = np.random.default_rng(2)
    folds = {k: (CONCEPTS, rng.random((3, 20)).astype(np.float32)) for k in (2, 0, 1)}
    table = fold_stability(folds, taus=[0.5, 0.8])
    assert list(table.columns) == ["tau", "concept", "fold_a", "fold_b", "jaccard", "empty_union"]
    assert sorted(set(zip(table.fold_a, table.fold_b))) == [(0, 1), (0, 2), (1, 2)]
    assert len(table) == 3 * 3 * 2
    row = table[
        (table.fold_a == 0) & (table.fold_b == 2) & (table.tau == 0.8) & (table.concept == "cat-n")
    ].iloc[0]
    assert row.jaccard == pytest.approx(jaccard_score(folds[0][1][1] > 0.8, folds[2][1][1] > 0.8))


def _unit_table():
    return pd.DataFrame(
        {
            "unit": [3, 0, 1, 2],  # any row order
            "module": ["l1.mlp", "l0.attn", "l0.attn", "l0.mlp"],
            "layer": [1, 0, 0, 0],
            "block": ["mlp", "attention", "attention", "mlp"],
            "sublayer": ["dense_4h_to_h", "dense", "dense", "dense_4h_to_h"],
            "channel": [0, 0, 1, 0],
        }
    )


def test_layer_distribution_per_module():
    table = layer_distribution(SCORES, _unit_table(), taus=[0.5])
    assert list(table.columns) == [
        "tau",
        "block",
        "sublayer",
        "layer",
        "n_units",
        "mean_experts",
        "total_experts",
    ]
    by_module = table.set_index(["block", "layer"])
    # experts at 0.5: dog {0,1,2}, cat {}, red {0,1,2}; attention l0 = units {0,1}, mlp l0 = {2}, mlp l1 = {3}
    assert by_module.loc[("attention", 0), "n_units"] == 2
    assert by_module.loc[("attention", 0), "total_experts"] == 4
    assert by_module.loc[("attention", 0), "mean_experts"] == pytest.approx(4 / 3)
    assert by_module.loc[("mlp", 0), "total_experts"] == 2
    assert by_module.loc[("mlp", 1), "total_experts"] == 0
    assert table["n_units"].sum() == 4


def test_layer_distribution_rejects_mismatched_unit_table():
    with pytest.raises(ValueError, match="units 0..4"):
        layer_distribution(np.zeros((2, 5), dtype=np.float32), _unit_table(), taus=[0.5])
    with pytest.raises(ValueError, match="sublayer"):
        layer_distribution(SCORES, _unit_table().drop(columns="sublayer"), taus=[0.5])


def test_fold_stability_scores_two_empty_sets_zero_and_flags_them():
    scores = np.array([[0.9, 0.9, 0.1], [0.1, 0.1, 0.1]], dtype=np.float32)  # second concept: no expert
    table = fold_stability({0: (["a-n", "b-n"], scores), 1: (["a-n", "b-n"], scores)}, taus=[0.5])
    rows = table.set_index("concept")
    assert rows.loc["a-n", "jaccard"] == 1.0 and not rows.loc["a-n", "empty_union"]
    assert rows.loc["b-n", "jaccard"] == 0.0 and rows.loc["b-n", "empty_union"]
