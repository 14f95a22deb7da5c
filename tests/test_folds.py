"""Tests of expertalign.folds: seeded, reproducible positive/negative draws and fold files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from expertalign.folds import FoldError, load_fold, make_folds, negatives_for, save_fold

# sentence_id -> concept; d-n is in the pool but not among the fold's concepts
OWNER = ["b-n", "a-n", "c-n", "a-n", "b-n", "c-n", "c-n", "a-n", "d-n", "b-n", "c-n", "a-n",
         "c-n", "b-n", "a-n", "c-n"]
CONCEPTS = ["a-n", "b-n", "c-n"]

# Computed once with `_direct_fold` below (seed 7, P=2, N=5) and pinned: a change in the draw
# order, the generator or numpy's PCG64 stream shows up here.
PINNED = [
    {"positives": {"a-n": [1, 7], "b-n": [0, 4], "c-n": [6, 12]},
     "negative_pool": [6, 4, 12, 3, 15, 13, 11, 0, 2, 5, 9]},
    {"positives": {"a-n": [1, 11], "b-n": [9, 13], "c-n": [10, 12]},
     "negative_pool": [13, 15, 5, 6, 11, 12, 9, 0, 1, 14, 7]},
]


def _direct_fold(owner, concepts, positive_size, negative_size, fold, seed):
    """The documented draw, written out with plain Python lists."""
    rng = np.random.Generator(np.random.PCG64(seed + fold))
    positives = {}
    for concept in sorted(concepts):
        ids = [i for i, o in enumerate(owner) if o == concept]
        order = rng.permutation(len(ids))
        positives[concept] = sorted(ids[j] for j in order[:positive_size])
    every = [i for i, o in enumerate(owner) if o in concepts]
    largest = max(sum(o == c for o in owner) for c in concepts)
    order = rng.permutation(len(every))
    return {"positives": positives, "negative_pool": [every[j] for j in order[:negative_size + largest]]}


def test_folds_match_the_pinned_draw_and_its_direct_formulation():
    folds = make_folds(pd.Series(OWNER), ["c-n", "a-n", "b-n"], 2, 5, n_folds=2, seed=7)
    for k, fold in enumerate(folds):
        assert fold["fold"] == k and fold["seed"] == 7
        assert (fold["positive_size"], fold["negative_size"], fold["small_pools"]) == (2, 5, [])
        assert {key: fold[key] for key in PINNED[k]} == PINNED[k]
        assert _direct_fold(OWNER, CONCEPTS, 2, 5, k, 7) == PINNED[k]


def test_same_seed_same_folds_other_seed_other_folds():
    owner = pd.Series(np.repeat([f"w{i}-n" for i in range(20)], 30))
    concepts = sorted(set(owner))
    first = make_folds(owner, concepts, 10, 40, n_folds=3, seed=1)
    assert make_folds(owner, concepts[::-1], 10, 40, n_folds=3, seed=1) == first
    other = make_folds(owner, concepts, 10, 40, n_folds=3, seed=2)
    assert [f["negative_pool"] for f in other] != [f["negative_pool"] for f in first]
    assert first[0]["positives"] != first[1]["positives"]
    assert first[1]["positives"] == other[0]["positives"]  # PCG64(seed + fold): 1 + 1 == 2 + 0


def test_fold_contents_satisfy_the_contract():
    rng = np.random.default_rng(0)
    owner = pd.Series(rng.choice([f"w{i}-v" for i in range(12)] + ["other-n"], size=600))
    concepts = [f"w{i}-v" for i in range(12)]
    pools = {c: set(np.flatnonzero(owner.to_numpy() == c)) for c in concepts}
    largest = max(len(p) for p in pools.values())
    (fold,) = make_folds(owner, concepts, 20, 100, n_folds=1, seed=5)
    pool = fold["negative_pool"]
    assert len(pool) == 100 + largest and len(set(pool)) == len(pool)
    assert set(pool) <= set().union(*pools.values())  # other-n never appears
    for concept in concepts:
        positives = fold["positives"][concept]
        assert len(positives) == 20 and len(set(positives)) == 20 and set(positives) <= pools[concept]
        negatives = negatives_for(fold, concept, owner)
        assert negatives.dtype == np.int64 and len(negatives) == 100
        assert not set(negatives.tolist()) & pools[concept]
        expected = [i for i in pool if owner[i] != concept][:100]
        assert negatives.tolist() == expected
        assert negatives_for(fold, concept, owner.tolist()).tolist() == expected


def test_negatives_are_uniform_over_other_concepts_sentences():
    owner = pd.Series(np.repeat(["a-n", "b-n", "c-n", "d-n"], [10, 10, 10, 10]))
    folds = make_folds(owner, ["a-n", "b-n", "c-n", "d-n"], 5, 15, n_folds=400, seed=0)
    counts = np.zeros(40)
    for fold in folds:
        np.add.at(counts, negatives_for(fold, "a-n", owner), 1)
    assert counts[:10].sum() == 0
    assert stats.chisquare(counts[10:]).pvalue > 1e-3
    positive_counts = np.zeros(40)
    for fold in folds:
        np.add.at(positive_counts, fold["positives"]["b-n"], 1)
    assert stats.chisquare(positive_counts[10:20]).pvalue > 1e-3


def test_small_pool_is_an_error_or_recorded_when_allowed():
    owner = pd.Series(["a-n"] * 3 + ["b-n"] * 10 + ["c-n"] * 10)
    with pytest.raises(FoldError, match=r"a-n: pool has 3 sentences, fewer than positive_size 5"):
        make_folds(owner, ["a-n", "b-n", "c-n"], 5, 8, n_folds=1, seed=0)
    (fold,) = make_folds(owner, ["a-n", "b-n", "c-n"], 5, 8, 1, 0, allow_small_pool=True)
    assert fold["small_pools"] == ["a-n"]
    assert fold["positives"]["a-n"] == [0, 1, 2]
    assert len(fold["positives"]["b-n"]) == 5


def test_too_few_sentences_for_n_plus_k_is_an_error():
    owner = pd.Series(["a-n"] * 6 + ["b-n"] * 6)
    with pytest.raises(FoldError, match=r"12 sentences in all, fewer than negative_size 7 \+ the largest pool 6"):
        make_folds(owner, ["a-n", "b-n"], 2, 7, n_folds=1, seed=0)


def test_a_concept_without_sentences_is_an_error():
    with pytest.raises(FoldError, match=r"no sentences in the pool for \['z-n'\]"):
        make_folds(pd.Series(OWNER), ["a-n", "z-n"], 2, 5, n_folds=1, seed=0)


def test_negatives_for_fails_clearly_when_the_pool_is_short():
    fold = {"fold": 0, "negative_size": 3, "negative_pool": [0, 1, 2, 3]}
    with pytest.raises(FoldError, match="only 2 negatives for a-n, 3 needed"):
        negatives_for(fold, "a-n", ["a-n", "b-n", "a-n", "b-n"])


def test_save_and_load_round_trip(tmp_path):
    (fold,) = make_folds(pd.Series(OWNER), CONCEPTS, 2, 5, n_folds=1, seed=7)
    path = tmp_path / "folds" / "fold0.json"
    save_fold(path, fold)
    assert load_fold(path) == fold
    assert [p.name for p in path.parent.iterdir()] == ["fold0.json"]


def test_load_fold_names_the_file_and_the_missing_key(tmp_path):
    path = tmp_path / "fold3.json"
    path.write_text(json.dumps({"fold": 3, "seed": 0}))
    with pytest.raises(FoldError, match=r"fold3.json: missing key 'positive_size'"):
        load_fold(path)


def test_draw_fold_equals_the_same_fold_of_make_folds():
    """A workflow job draws one fold; it must be the fold make_folds gives at that index."""
    import pandas as pd

    from expertalign.folds import draw_fold, make_folds

    pool = pd.Series([f"c{i % 5}" for i in range(60)])
    concepts = [f"c{i}" for i in range(5)]
    folds = make_folds(pool, concepts, 4, 20, 3, seed=11)
    for k in range(3):
        assert draw_fold(pool, concepts, 4, 20, k, seed=11) == folds[k]
    assert draw_fold(pool, concepts, 4, 20, 2, seed=11) != folds[1]
