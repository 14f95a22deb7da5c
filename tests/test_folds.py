"""Tests of expertalign.folds: seeded, reproducible positive/negative draws and fold files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from expertalign.folds import FoldError, draw_fold, load_fold, make_folds, negatives_for, save_fold

# sentence_id -> concept; d-n is in the pool but not among the fold's concepts
OWNER = ["b-n", "a-n", "c-n", "a-n", "b-n", "c-n", "c-n", "a-n", "d-n", "b-n", "c-n", "a-n",
         "c-n", "b-n", "a-n", "c-n"]
CONCEPTS = ["a-n", "b-n", "c-n"]

M = 12  # negative pool: 12 of the 15 sentences of a-n, b-n, c-n

# Computed once with `_direct_fold` below (seed 7, P=2, N=5, M=12) and pinned: a change in the draw
# order, the generator or numpy's PCG64 stream shows up here.
PINNED = [
    {"positives": {"a-n": [1, 7], "b-n": [0, 4], "c-n": [6, 12]},
     "negative_pool": [0, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 15],
     "negatives": {"a-n": [4, 5, 6, 12, 15], "b-n": [2, 6, 7, 12, 15], "c-n": [3, 7, 9, 11, 13]}},
    {"positives": {"a-n": [1, 11], "b-n": [9, 13], "c-n": [10, 12]},
     "negative_pool": [0, 1, 3, 5, 6, 7, 9, 11, 12, 13, 14, 15],
     "negatives": {"a-n": [0, 6, 9, 12, 13], "b-n": [1, 5, 6, 7, 15], "c-n": [0, 1, 7, 11, 14]}},
]


def _direct_fold(owner, concepts, positive_size, negative_size, pool_size, fold, seed):
    """The documented draw, written out with plain Python lists."""
    rng = np.random.Generator(np.random.PCG64(seed + fold))
    positives = {}
    for concept in sorted(concepts):
        ids = [i for i, o in enumerate(owner) if o == concept]
        order = rng.permutation(len(ids))
        positives[concept] = sorted(ids[j] for j in order[:positive_size])
    every = [i for i, o in enumerate(owner) if o in concepts]
    order = rng.permutation(len(every))
    pool = sorted(every[j] for j in order[:pool_size])
    negatives = {}
    for concept in sorted(concepts):
        foreign = [i for i in pool if owner[i] != concept]
        negatives[concept] = sorted(foreign[j] for j in rng.choice(len(foreign), negative_size, replace=False))
    return {"positives": positives, "negative_pool": pool, "negatives": negatives}


def test_folds_match_the_pinned_draw_and_its_direct_formulation():
    folds = make_folds(pd.Series(OWNER), ["c-n", "a-n", "b-n"], 2, 5, n_folds=2, seed=7, negative_pool_size=M)
    for k, fold in enumerate(folds):
        assert fold["fold"] == k and fold["seed"] == 7
        assert (fold["positive_size"], fold["negative_size"], fold["negative_pool_size"]) == (2, 5, M)
        assert fold["small_pools"] == []
        assert {key: fold[key] for key in PINNED[k]} == PINNED[k]
        assert _direct_fold(OWNER, CONCEPTS, 2, 5, M, k, 7) == PINNED[k]


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
    (fold,) = make_folds(owner, concepts, 20, 30, n_folds=1, seed=5)
    pool = fold["negative_pool"]
    assert fold["negative_pool_size"] == len(pool) == 300 and pool == sorted(set(pool))  # default 10 N
    assert set(pool) <= set().union(*pools.values())  # other-n never appears
    for concept in concepts:
        positives = fold["positives"][concept]
        assert len(positives) == 20 and len(set(positives)) == 20 and set(positives) <= pools[concept]
        negatives = negatives_for(fold, concept)
        assert negatives.dtype == np.int64 and negatives.tolist() == sorted(set(negatives.tolist()))
        assert len(negatives) == 30 and set(negatives.tolist()) <= set(pool)
        assert not set(negatives.tolist()) & pools[concept]


def test_each_concept_draws_its_own_negatives_reproducibly():
    """Never the concept's own, distinct, the same from the same seed, different between concepts and seeds."""
    owner = pd.Series(np.repeat([f"w{i}-n" for i in range(20)], 30))
    concepts = sorted(set(owner))
    fold = draw_fold(owner, concepts, 10, 40, fold=1, seed=3)
    again = draw_fold(owner, concepts, 10, 40, fold=1, seed=3)
    other_seed = draw_fold(owner, concepts, 10, 40, fold=1, seed=4)
    negatives = {concept: negatives_for(fold, concept) for concept in concepts}
    for concept, ids in negatives.items():
        assert len(set(ids.tolist())) == 40 and not (owner[ids] == concept).any()
        assert np.array_equal(ids, negatives_for(again, concept))
        assert not np.array_equal(ids, negatives_for(other_seed, concept))
    distinct_sets = {tuple(ids.tolist()) for ids in negatives.values()}
    assert len(distinct_sets) == len(concepts)


def test_negative_pool_size_all_and_bad_values():
    owner = pd.Series(np.repeat(["a-n", "b-n", "c-n", "d-n"], 10))
    (whole,) = make_folds(owner, ["a-n", "b-n", "c-n", "d-n"], 5, 15, n_folds=1, seed=0, negative_pool_size="all")
    assert whole["negative_pool"] == list(range(40)) and whole["negative_pool_size"] == 40
    (capped,) = make_folds(owner, ["a-n", "b-n", "c-n", "d-n"], 5, 15, n_folds=1, seed=0)  # 10 N > 40: all
    assert capped["negative_pool_size"] == 40
    too_small = r"negative pool of 24 sentences .* smaller than negative_size 15 \+ the largest pool 10"
    for bad, message in ((0, "integer >= 1"), ("most", "integer >= 1"), (41, "exceeds the 40 sentences"),
                         (24, too_small)):
        with pytest.raises(FoldError, match=message):
            make_folds(owner, ["a-n", "b-n", "c-n", "d-n"], 5, 15, n_folds=1, seed=0, negative_pool_size=bad)


def test_negatives_are_uniform_over_other_concepts_sentences():
    owner = pd.Series(np.repeat(["a-n", "b-n", "c-n", "d-n"], [10, 10, 10, 10]))
    folds = make_folds(owner, ["a-n", "b-n", "c-n", "d-n"], 5, 15, n_folds=400, seed=0, negative_pool_size=28)
    counts = np.zeros(40)
    for fold in folds:
        np.add.at(counts, negatives_for(fold, "a-n"), 1)
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
    with pytest.raises(FoldError, match=r"negative pool of 12 sentences .*12 sentences in all.* smaller than "
                                        r"negative_size 7 \+ the largest pool 6"):
        make_folds(owner, ["a-n", "b-n"], 2, 7, n_folds=1, seed=0)


def test_a_concept_without_sentences_is_an_error():
    with pytest.raises(FoldError, match=r"no sentences in the pool for \['z-n'\]"):
        make_folds(pd.Series(OWNER), ["a-n", "z-n"], 2, 5, n_folds=1, seed=0)


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


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.pop("negatives"), "missing key 'negatives'"),
    (lambda f: f["negatives"].pop("b-n"), "negatives and positives must name the same concepts"),
    (lambda f: f["negatives"]["a-n"].pop(), "a-n needs 5 distinct negatives, has 4"),
    (lambda f: f["negatives"]["a-n"].__setitem__(0, f["negatives"]["a-n"][1]), "a-n needs 5 distinct negatives"),
    (lambda f: f["negatives"]["c-n"].__setitem__(0, 8), "negatives of c-n are not all in negative_pool"),
    (lambda f: f["negative_pool"].pop(), "negative_pool must hold negative_pool_size"),
    (lambda f: f["negatives"]["a-n"].__setitem__(0, f["positives"]["a-n"][1]), "include its own positives"),
])
def test_load_fold_rejects_malformed_negatives(tmp_path, edit, message):
    (fold,) = make_folds(pd.Series(OWNER), CONCEPTS, 2, 5, n_folds=1, seed=7, negative_pool_size=M)
    edit(fold)
    path = tmp_path / "fold0.json"
    path.write_text(json.dumps(fold))
    with pytest.raises(FoldError, match=f"fold0.json: .*{message}"):
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
