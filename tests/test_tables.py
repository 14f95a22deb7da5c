"""Tests for expertalign.tables: contract columns and known answers on synthetic score matrices."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import jaccard_score
from sklearn.metrics.pairwise import cosine_similarity

from expertalign.measures import cosine_similarities, expert_similarities
from expertalign.stats import partial_spearman
from expertalign.tables import (
    TABLE_COLUMNS,
    alignment_rows,
    alignment_summary,
    cross_dataset_rows,
    checkpoint_stability_summary,
    expert_count_summary,
    hierarchy_summary,
    hierarchy_test_summary,
    summarise_folds,
    checkpoint_stability_rows,
    embedding_rows,
    expert_count_rows,
    fold_stability_rows,
    hierarchy_pair_rows,
    hierarchy_rows,
    hierarchy_test_rows,
    layer_rows,
    lexical_rows,
    partial_rows,
)

RUN = {"model": "tiny", "checkpoint": "final", "fold": 0, "score": "ap"}
STATS = {"n_resamples": 200, "seed": 0}


def _alignment(scores, concepts, pairs, taus, run=RUN, dataset="men"):
    """alignment_rows of the expert measures of `scores` (chance centre of run's score)."""
    from expertalign.tables import chance_center

    similarities = expert_similarities(scores, chance_center(run["score"]), taus)
    return alignment_rows(similarities, concepts, pairs, dataset=dataset, **run, **STATS)


def _nested_scores():
    """Concept a-n has experts 0..49; b{k}-n has experts 5k..5k+49, so Jaccard(a, b_k) falls with k.

    e1-n and e2-n have no experts at all. Experts score 0.9, the rest 0.1.
    """
    concepts = ["a-n"] + [f"b{k}-n" for k in range(1, 6)] + ["e1-n", "e2-n"]
    scores = np.full((len(concepts), 100), 0.1, dtype=np.float32)
    scores[0, :50] = 0.9
    for k in range(1, 6):
        scores[k, 5 * k : 5 * k + 50] = 0.9
    pairs = pd.DataFrame(
        {
            "word1": ["a-n"] * 5 + ["e1-n", "a-n"],
            "word2": [f"b{k}-n" for k in range(1, 6)] + ["e2-n", "absent-n"],
            "score": [45.0, 40.0, 35.0, 30.0, 25.0, 1.0, 50.0],
        }
    )
    return concepts, scores, pairs


def test_alignment_rows_known_answers_and_columns():
    concepts, scores, pairs = _nested_scores()
    table = _alignment(scores, concepts, pairs, [0.5, 0.9])
    assert list(table.columns) == TABLE_COLUMNS["alignment"]
    assert table["measure"].tolist() == ["jaccard", "jaccard", "cosine", "cosine_centered", "hellinger"]
    assert (table["dataset"] == "men").all()
    assert (table[["model", "checkpoint", "fold", "score"]] == pd.Series(RUN)).all().all()
    assert (table["n_pairs"] == 6).all()  # the pair with absent-n is left out
    at_05 = table.iloc[0]
    assert at_05["spearman"] == pytest.approx(1.0) and at_05["n_empty_union"] == 1
    at_09 = table.iloc[1]  # no score is above 0.9: every union empty, similarity constant
    assert at_09["n_empty_union"] == 6 and np.isnan(at_09["spearman"]) and np.isnan(at_09["ci_low"])
    assert np.isnan(table.loc[2, "tau"]) and table.loc[2, "n_empty_union"] == 0
    # e1-n and e2-n have no score above chance (0.5): no mass, so their hellinger similarity is undefined
    assert table.loc[4, "n_empty_union"] == 1 and table.loc[4, "spearman"] == pytest.approx(1.0)


def test_alignment_rows_match_direct_computation_on_random_scores():
    rng = np.random.default_rng(0)
    concepts = [f"c{i}-n" for i in range(12)]
    scores = rng.random((12, 80)).astype(np.float32)
    index = rng.choice(12, size=(30, 2))
    index = index[index[:, 0] != index[:, 1]]
    pairs = pd.DataFrame(
        {
            "word1": [concepts[i] for i in index[:, 0]],
            "word2": [concepts[j] for j in index[:, 1]],
            "score": rng.uniform(0, 50, size=len(index)),
        }
    )
    table = _alignment(scores, concepts, pairs, [0.7]).set_index("measure")
    jaccard = [jaccard_score(scores[i] > 0.7, scores[j] > 0.7) for i, j in index]
    centred = cosine_similarity(scores - 0.5)
    expected_jaccard = scipy.stats.spearmanr(jaccard, pairs["score"])
    expected_centred = scipy.stats.spearmanr([centred[i, j] for i, j in index], pairs["score"])
    assert table.loc["jaccard", "spearman"] == pytest.approx(expected_jaccard.statistic)
    assert table.loc["jaccard", "p_value"] == pytest.approx(expected_jaccard.pvalue)
    assert table.loc["cosine_centered", "spearman"] == pytest.approx(expected_centred.statistic)
    assert (
        table.loc["jaccard", "ci_low"] <= table.loc["jaccard", "spearman"] <= table.loc["jaccard", "ci_high"]
    )


def test_alignment_centring_depends_on_score_kind():
    rng = np.random.default_rng(1)
    concepts = [f"c{i}-n" for i in range(8)]
    scores = rng.uniform(-0.5, 1.0, size=(8, 40)).astype(np.float32)
    pairs = pd.DataFrame({"word1": concepts[:4], "word2": concepts[4:], "score": [1.0, 2.0, 3.0, 4.0]})
    run = {**RUN, "score": "ap_normalized"}
    table = _alignment(scores, concepts, pairs, [0.5], run=run).set_index("measure")
    assert table.loc["cosine", "spearman"] == pytest.approx(table.loc["cosine_centered", "spearman"])
    with pytest.raises(ValueError, match="bogus"):
        _alignment(scores, concepts, pairs, [0.5], run={**RUN, "score": "bogus"})


def test_lexical_and_embedding_rows_match_scipy():
    rng = np.random.default_rng(2)
    concepts = [f"c{i}-n" for i in range(10)]
    pairs = pd.DataFrame(
        {
            "word1": concepts[:5] * 2,
            "word2": concepts[5:] + concepts[1:6],
            "score": rng.uniform(0, 50, size=10),
        }
    )
    lexical = cosine_similarity(rng.random((10, 6)))
    similarity = {"lexical": (lexical, np.zeros_like(lexical, dtype=bool))}
    table = lexical_rows(similarity, concepts, pairs, dataset="simlex999", weighting="tfidf", **STATS)
    assert list(table.columns) == TABLE_COLUMNS["lexical_baseline"]
    expected = scipy.stats.spearmanr(
        [lexical[concepts.index(a), concepts.index(b)] for a, b in zip(pairs.word1, pairs.word2)], pairs.score
    )
    assert table.loc[0, "spearman"] == pytest.approx(expected.statistic)
    assert (table.loc[0, "measure"], table.loc[0, "weighting"], table.loc[0, "n_pairs"]) == (
        "lexical",
        "tfidf",
        10,
    )

    assert table.loc[0, "dataset"] == "simlex999"

    embeddings = rng.normal(size=(10, 16))
    contextual = embeddings + rng.normal(size=(10, 16))
    contextual[3] = np.nan  # a word never found in its sentences: its pairs count as 0, flagged
    similarities = cosine_similarities({"word": embeddings, "contextual": contextual})
    rows = embedding_rows(similarities, concepts, pairs, dataset="men", model="m", checkpoint="init", pooling="mean",
                          **STATS)
    assert list(rows.columns) == TABLE_COLUMNS["embedding_baseline"]
    rows = rows.set_index("baseline")
    assert list(rows.index) == ["word", "contextual"]  # the registry's order
    cos = cosine_similarity(embeddings)
    expected = scipy.stats.spearmanr(
        [cos[concepts.index(a), concepts.index(b)] for a, b in zip(pairs.word1, pairs.word2)], pairs.score
    )
    assert rows.loc["word", "spearman"] == pytest.approx(expected.statistic)
    assert rows.loc["word", "pooling"] == "mean" and rows.loc["word", "n_empty_union"] == 0
    with_nan = cosine_similarity(np.nan_to_num(contextual, nan=0.0))
    expected = scipy.stats.spearmanr(
        [with_nan[concepts.index(a), concepts.index(b)] for a, b in zip(pairs.word1, pairs.word2)], pairs.score
    )
    assert rows.loc["contextual", "spearman"] == pytest.approx(expected.statistic)
    assert rows.loc["contextual", "n_empty_union"] == ((pairs.word1 == "c3-n") | (pairs.word2 == "c3-n")).sum() == 3


def test_partial_rows_use_pairs_with_scores_and_lexical_vectors():
    rng = np.random.default_rng(3)
    concepts = [f"c{i}-n" for i in range(14)]
    scores = rng.random((14, 60)).astype(np.float32)
    pairs = pd.DataFrame(
        {
            "word1": concepts[:7] + ["c0-n"],
            "word2": concepts[7:] + ["zzz-n"],
            "score": rng.uniform(0, 50, size=8),
        }
    )
    lexical_concepts = concepts[:13]  # c13-n has no lexical vector -> pair (c6, c13) left out
    lexical = cosine_similarity(rng.random((13, 5)))
    lexical = {"lexical": (lexical, np.zeros_like(lexical, dtype=bool))}
    similarities = expert_similarities(scores, 0.5, [0.5, 0.6])
    table = partial_rows(similarities, concepts, pairs, lexical, lexical_concepts, dataset="men", **RUN)
    assert list(table.columns) == TABLE_COLUMNS["partial_alignment"]
    assert (table["n_pairs"] == 6).all()
    kept = pairs.iloc[:6]
    ids = [(concepts.index(a), concepts.index(b)) for a, b in zip(kept.word1, kept.word2)]
    jaccard = [jaccard_score(scores[i] > 0.5, scores[j] > 0.5, zero_division=0.0) for i, j in ids]
    lex = [lexical["lexical"][0][i, j] for i, j in ids]
    expected = partial_spearman(jaccard, kept.score, lex)
    assert table.loc[0, "partial_spearman"] == pytest.approx(expected["partial_spearman"])
    assert table.loc[0, "spearman"] == pytest.approx(scipy.stats.spearmanr(jaccard, kept.score).statistic)


def _hierarchy_fixture():
    hierarchy = pd.DataFrame(
        {
            "domain": ["animal"] * 3 + ["colour"] * 3,
            "role": ["super", "sub", "sub"] * 2,
            "concept": ["animal-n", "dog-n", "cat-n", "colour-n", "red-n", "blue-n"],
        }
    )
    concepts = ["other-n", "animal-n", "dog-n", "cat-n", "colour-n", "red-n", "blue-n"]
    scores = np.full((7, 12), 0.2, dtype=np.float32)
    scores[2, [0, 1, 2, 3, 8]] = 0.8  # dog
    scores[3, [0, 1, 2, 3, 9]] = 0.8  # cat: shares 0..3 with dog
    scores[1, [0, 1]] = 0.8  # animal: 2 of the 4 shared -> 50 %
    scores[5, [4, 5, 10]] = 0.8  # red
    scores[6, [4, 5, 11]] = 0.8  # blue
    scores[4, [4, 5]] = 0.6  # colour: both shared at tau 0.5, none at 0.7
    return hierarchy, concepts, scores


def test_hierarchy_rows_tests_and_pairs():
    hierarchy, concepts, scores = _hierarchy_fixture()
    table = hierarchy_rows(scores, concepts, hierarchy, [0.5, 0.7], iterations=20, seed=0, **RUN)
    assert list(table.columns) == TABLE_COLUMNS["hierarchy"]
    overlap = table.set_index(["tau", "domain"])["overlap"]
    assert overlap[(0.5, "animal")] == 50.0 and overlap[(0.5, "colour")] == 100.0
    assert overlap[(0.7, "colour")] == 0.0
    tests = hierarchy_test_rows(table, n_resamples=100, seed=0)
    assert list(tests.columns) == TABLE_COLUMNS["hierarchy_tests"]
    assert len(tests) == 4 and set(tests["baseline"]) == {"baseline1", "baseline2"}
    assert tests.loc[0, "mean_real"] == pytest.approx(75.0)
    pairs = hierarchy_pair_rows(scores, concepts, hierarchy, [0.5], **RUN)
    assert list(pairs.columns) == TABLE_COLUMNS["hierarchy_pairs"]
    assert len(pairs) == 36
    dog_cat = pairs[(pairs.concept_a == "dog-n") & (pairs.concept_b == "cat-n")]["overlap"].item()
    assert dog_cat == pytest.approx(100 * 4 / 6)


def test_hierarchy_rows_need_every_hierarchy_concept():
    hierarchy, concepts, scores = _hierarchy_fixture()
    with pytest.raises(ValueError, match="blue-n"):
        hierarchy_rows(scores[:6], concepts[:6], hierarchy, [0.5], iterations=2, seed=0, **RUN)


def test_knowledge_rows_have_contract_columns_and_ids():
    concepts = ["dog-n", "cat-n"]
    scores = np.array([[0.9, 0.6, 0.1, 0.1], [0.9, 0.1, 0.6, 0.1]], dtype=np.float32)
    counts = expert_count_rows(scores, concepts, [0.5], **RUN)
    assert list(counts.columns) == TABLE_COLUMNS["expert_counts"]
    assert counts["n_experts"].tolist() == [2, 2] and (counts["model"] == "tiny").all()

    later = np.array([[0.9, 0.6, 0.6, 0.1], [0.9, 0.1, 0.6, 0.1]], dtype=np.float32)
    stability = checkpoint_stability_rows(
        {"step1": (concepts, scores), "step2": (concepts, later)},
        ["step1", "step2"],
        [0.5],
        model="tiny",
        fold=0,
        score="ap",
    )
    assert list(stability.columns) == TABLE_COLUMNS["checkpoint_stability"]
    assert stability["jaccard"].tolist() == pytest.approx([2 / 3, 1.0])

    unit_table = pd.DataFrame(
        {
            "unit": range(4),
            "module": ["a", "a", "m", "m"],
            "layer": [0, 0, 0, 0],
            "block": ["attention", "attention", "mlp", "mlp"],
            "sublayer": ["dense", "dense", "dense_4h_to_h", "dense_4h_to_h"],
            "channel": [0, 1, 0, 1],
        }
    )
    layers = layer_rows(scores, unit_table, [0.5], **RUN)
    assert list(layers.columns) == TABLE_COLUMNS["layer_distribution"]
    assert layers["total_experts"].tolist() == [3, 1]

    folds = fold_stability_rows(
        {0: (concepts, scores), 1: (concepts, later)},
        [0.5],
        model="tiny",
        checkpoint="final",
        positive_size=30,
        negative_size=75,
        score="ap",
    )
    assert list(folds.columns) == TABLE_COLUMNS["fold_stability"]
    assert (folds["positive_size"] == 30).all() and folds["jaccard"].tolist() == pytest.approx([2 / 3, 1.0])


# ----------------------------------------------------------------------------- fold summaries


def _fold_scores(n_folds=3):
    """The nested scores with fold-specific noise: each fold's expert sets differ a little."""
    concepts, scores, pairs = _nested_scores()
    rng = np.random.default_rng(5)
    folds = []
    for _ in range(n_folds):
        noisy = scores.copy()
        flip = rng.random(scores.shape) < 0.3
        noisy[flip] = np.where(noisy[flip] > 0.5, 0.1, 0.9)
        noisy[6:] = 0.1  # e1-n and e2-n keep no expert in every fold
        folds.append(noisy)
    return concepts, folds, pairs


def test_alignment_summary_is_the_mean_and_spread_of_the_folds():
    concepts, folds, pairs = _fold_scores()
    per_fold = pd.concat(
        [_alignment(s, concepts, pairs, [0.5], run={**RUN, "fold": k}) for k, s in enumerate(folds)]
    )
    summary = alignment_summary(per_fold)
    assert list(summary.columns) == TABLE_COLUMNS["alignment_summary"]
    assert len(summary) == 4  # jaccard at 0.5, cosine, cosine_centered, hellinger: one row each over folds
    row = summary[summary["measure"] == "jaccard"].iloc[0]
    values = per_fold.loc[per_fold["measure"] == "jaccard", "spearman"].to_numpy()
    assert row["n_folds"] == 3 and row["mean"] == pytest.approx(values.mean())
    assert row["sd"] == pytest.approx(values.std(ddof=1)) and row["sd"] > 0
    assert (row["min"], row["max"]) == pytest.approx((values.min(), values.max()))
    lows = per_fold.loc[per_fold["measure"] == "jaccard", "ci_low"]
    assert row["ci_low"] == pytest.approx(lows.mean())
    assert row["n_empty_union"] == 1.0  # e1-n / e2-n in every fold


def test_expert_count_and_checkpoint_stability_summaries_average_concept_means_over_folds():
    concepts, folds, _ = _fold_scores()
    counts = pd.concat(
        [expert_count_rows(s, concepts, [0.5], **{**RUN, "fold": k}) for k, s in enumerate(folds)]
    )
    summary = expert_count_summary(counts, **STATS)
    assert list(summary.columns) == TABLE_COLUMNS["expert_counts_summary"]
    per_fold = [(s > 0.5).sum(axis=1).mean() for s in folds]
    row = summary.iloc[0]
    assert row["mean"] == pytest.approx(np.mean(per_fold)) and row["n_folds"] == 3
    assert (row["min"], row["max"]) == pytest.approx((min(per_fold), max(per_fold)))
    assert row["n_concepts"] == len(concepts)

    stability = pd.concat(
        [
            checkpoint_stability_rows(
                {"step1": (concepts, s), "step2": (concepts, np.roll(s, 1, axis=1))},
                ["step1", "step2"], [0.5], model="tiny", fold=k, score="ap",
            )
            for k, s in enumerate(folds)
        ]
    )
    summary = checkpoint_stability_summary(stability, **STATS)
    assert list(summary.columns) == TABLE_COLUMNS["checkpoint_stability_summary"]
    row = summary.iloc[0]
    assert row["n_empty_union"] == 2.0  # e1-n and e2-n: Jaccard 0, counted, in each fold
    fold_means = stability.groupby("fold")["jaccard"].mean()  # the zeros included
    assert row["mean"] == pytest.approx(fold_means.mean())


def test_hierarchy_summaries_over_folds():
    hierarchy, concepts, scores = _hierarchy_fixture()
    later = scores.copy()
    later[1, 2] = 0.8  # fold 1: animal shares 3 of the 4 -> 75 %
    table = pd.concat(
        [
            hierarchy_rows(s, concepts, hierarchy, [0.7], iterations=5, seed=0, **{**RUN, "fold": k})
            for k, s in enumerate([scores, later])
        ]
    )
    summary = hierarchy_summary(table).set_index("domain")
    assert list(summary.reset_index()[TABLE_COLUMNS["hierarchy_summary"]].columns) == TABLE_COLUMNS["hierarchy_summary"]
    assert summary.loc["animal", "mean"] == pytest.approx(62.5)
    assert summary.loc["animal", "sd"] == pytest.approx(np.std([50.0, 75.0], ddof=1))
    assert summary.loc["colour", "n_empty_intersection"] == 0  # 0.7: the sub-ordinates share units 4, 5
    tests = hierarchy_test_rows(table, n_resamples=50, seed=0)
    test_summary = hierarchy_test_summary(tests)
    assert list(test_summary.columns) == TABLE_COLUMNS["hierarchy_tests_summary"]
    assert (test_summary["n_folds"] == 2).all()
    p = tests[tests["baseline"] == "baseline1"]["p_value"]
    row = test_summary[test_summary["baseline"] == "baseline1"].iloc[0]
    assert (row["p_median"], row["p_min"], row["p_max"]) == pytest.approx((p.median(), p.min(), p.max()))
    pd.testing.assert_frame_equal(summarise_folds("hierarchy_tests", tests, **STATS), test_summary)
    with pytest.raises(ValueError, match="no fold summary"):
        summarise_folds("layer_distribution", tests, **STATS)


def test_cross_dataset_rows_join_experts_baselines_and_ceilings():
    concepts, folds, pairs = _fold_scores()
    per_fold = pd.concat(
        [_alignment(s, concepts, pairs, [0.5, 0.9], run={**RUN, "fold": k}, dataset=d)
         for d in ("men", "simlex999") for k, s in enumerate(folds)]
    )
    summary = alignment_summary(per_fold)
    rng = np.random.default_rng(7)
    vectors = {"word": rng.normal(size=(len(concepts), 4)), "sentence_pool": rng.normal(size=(len(concepts), 4))}
    embedding = pd.concat(
        [embedding_rows(cosine_similarities(vectors), concepts, pairs, dataset=d, model="tiny", checkpoint="final",
                        pooling="mean", **STATS) for d in ("men", "simlex999")]
    )
    lexical_matrix = cosine_similarity(rng.random((len(concepts), 3)))
    lexical = pd.concat(
        [lexical_rows({"lexical": (lexical_matrix, np.zeros_like(lexical_matrix, dtype=bool))}, concepts, pairs,
                      dataset=d, weighting="tfidf", **STATS) for d in ("men", "simlex999")]
    )
    table = cross_dataset_rows(summary, embedding, lexical, tau=0.5, ceilings={"men": 0.84, "simlex999": None})
    assert list(table.columns) == TABLE_COLUMNS["cross_dataset"]
    men = table[table["dataset"] == "men"]
    assert men["method"].tolist() == ["jaccard", "cosine", "cosine_centered", "hellinger", "word", "sentence_pool",
                                      "lexical"]
    assert (men["ceiling"] == 0.84).all() and table.loc[table["dataset"] == "simlex999", "ceiling"].isna().all()
    jaccard = men[men["method"] == "jaccard"].iloc[0]
    expected = summary[(summary["dataset"] == "men") & (summary["measure"] == "jaccard") & (summary["tau"] == 0.5)]
    assert jaccard["mean"] == pytest.approx(expected["mean"].iloc[0]) and jaccard["n_folds"] == 3
    word = men[men["method"] == "word"].iloc[0]
    assert word["kind"] == "embedding" and word["n_folds"] == 1 and np.isnan(word["sd"])
    assert word["mean"] == word["min"] == word["max"]
    assert (men["kind"] == "lexical").sum() == 1
    with pytest.raises(ValueError, match="tau 0.7"):
        cross_dataset_rows(summary, embedding, lexical, tau=0.7, ceilings={})
