"""Builders of the result tables: score matrices and inputs in memory -> tidy DataFrames.

Each builder returns exactly the columns of one contract table (TABLE_COLUMNS, in that order),
adding the identifying columns (model, checkpoint, fold, score, ...) given as keyword
arguments. The workflow scripts load inputs, call one builder and write the CSV.

Centring of the "cosine_centered" measure (paper App. B, "AP - 0.5"): every score is centred
on its chance level, CHANCE_CENTER: 0.5 for ap (as the paper), 0.5 for auroc (its chance level
whatever the class balance) and 0 for ap_normalized (already (AP - r) / (1 - r), chance 0), so
for ap_normalized the centred cosine equals the raw one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from expertalign.hierarchy import hierarchy_table, hierarchy_tests, pairwise_overlap, parse_domains
from expertalign.knowledge import (
    ScoredConcepts,
    checkpoint_stability,
    expert_counts,
    fold_stability,
    layer_distribution,
)
from expertalign.similarity import (
    concept_index,
    cosine_matrices,
    cosine_matrix,
    expert_jaccards,
    expert_mask,
    pair_similarities,
    pairs_present,
)
from expertalign.stats import partial_spearman, spearman, spearman_with_ci

log = logging.getLogger(__name__)

CHANCE_CENTER = {"ap": 0.5, "auroc": 0.5, "ap_normalized": 0.0}

_RUN = ["model", "checkpoint", "fold", "score"]
_CORRELATION = ["n_pairs", "spearman", "p_value", "ci_low", "ci_high"]
TABLE_COLUMNS: dict[str, list[str]] = {
    "alignment": [
        *_RUN,
        "measure",
        "tau",
        "n_pairs",
        "n_empty_union",
        "spearman",
        "p_value",
        "ci_low",
        "ci_high",
    ],
    "lexical_baseline": ["measure", "weighting", *_CORRELATION],
    "partial_alignment": [*_RUN, "tau", "n_pairs", "spearman", "partial_spearman", "p_value"],
    "embedding_baseline": ["model", "checkpoint", "pooling", *_CORRELATION],
    "hierarchy": [*_RUN, "tau", "domain", "overlap", "empty_intersection", "baseline1", "baseline2"],
    "hierarchy_tests": [*_RUN, "tau", "baseline", "mean_real", "mean_baseline", "statistic", "p_value"],
    "hierarchy_pairs": [*_RUN, "tau", "concept_a", "concept_b", "domain_a", "domain_b", "overlap"],
    "expert_counts": [*_RUN, "tau", "concept", "n_experts", "n_units", "fraction"],
    "checkpoint_stability": [
        "model",
        "checkpoint",
        "next_checkpoint",
        "fold",
        "score",
        "tau",
        "concept",
        "jaccard",
    ],
    "layer_distribution": [
        *_RUN,
        "tau",
        "block",
        "sublayer",
        "layer",
        "n_units",
        "mean_experts",
        "total_experts",
    ],
    "fold_stability": [
        "model",
        "checkpoint",
        "positive_size",
        "negative_size",
        "score",
        "tau",
        "concept",
        "fold_a",
        "fold_b",
        "jaccard",
    ],
}


def _finish(table: pd.DataFrame, name: str, **ids) -> pd.DataFrame:
    """Add the identifying columns to `table` and order its columns as TABLE_COLUMNS[name]."""
    return table.assign(**ids)[TABLE_COLUMNS[name]].reset_index(drop=True)


def chance_center(score: str) -> float:
    """Chance level of a score name (see module docstring); ValueError for an unknown score."""
    if score not in CHANCE_CENTER:
        raise ValueError(f"unknown score {score!r}; expected one of {sorted(CHANCE_CENTER)}")
    return CHANCE_CENTER[score]


def _correlation_row(
    similarities: pd.DataFrame, n_resamples: int, seed: int, confidence_level: float
) -> dict:
    """Spearman of similarity vs MEN score over the pairs of a pair_similarities table."""
    result = spearman_with_ci(
        similarities["similarity"], similarities["score"], n_resamples, seed, confidence_level
    )
    return {"n_pairs": result.pop("n"), **result}


def alignment_rows(
    scores: np.ndarray,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
    jaccards: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Alignment with human similarity (paper Fig. 2 and 8): the alignment.csv rows of one score file.

    scores: [n_concepts, n_units] float32 of the `score` kind; pairs: MEN pairs (word1, word2,
    score), only those with both concepts scored are used. Rows: measure "jaccard" at every tau
    (expert sets scores > tau; an empty union counts as similarity 0 and in n_empty_union),
    "cosine" over the raw scores and "cosine_centered" over scores - chance_center(score)
    (tau NaN and n_empty_union 0 for both). jaccards: expertalign.similarity.expert_jaccards(scores,
    taus) when already computed (e.g. shared with partial_rows), else computed here.
    """
    center = chance_center(score)
    jaccards = expert_jaccards(scores, taus) if jaccards is None else jaccards
    rows = []
    for tau in taus:
        jaccard, sizes = jaccards[float(tau)]
        similarities = pair_similarities(jaccard, concepts, pairs, set_sizes=sizes)
        rows.append(
            {
                "measure": "jaccard",
                "tau": float(tau),
                "n_empty_union": int(similarities["empty_union"].sum()),
                **_correlation_row(similarities, n_resamples, seed, confidence_level),
            }
        )
    for measure, cosine in zip(("cosine", "cosine_centered"), cosine_matrices(scores, center)):
        similarities = pair_similarities(cosine, concepts, pairs)
        rows.append(
            {
                "measure": measure,
                "tau": np.nan,
                "n_empty_union": 0,
                **_correlation_row(similarities, n_resamples, seed, confidence_level),
            }
        )
    return _finish(
        pd.DataFrame(rows), "alignment", model=model, checkpoint=checkpoint, fold=fold, score=score
    )


def lexical_rows(
    matrix: np.ndarray,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    *,
    weighting: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """The lexical_baseline.csv row: Spearman of lexical pool similarity vs MEN.

    matrix: [n_c, n_c] from expertalign.lexical.lexical_similarity, rows in `concepts` order.
    Pass the same pairs as alignment_rows (e.g. restricted to scored concepts) for a like-for-
    like comparison.
    """
    similarities = pair_similarities(matrix, concepts, pairs)
    row = {
        "measure": "lexical",
        "weighting": weighting,
        **_correlation_row(similarities, n_resamples, seed, confidence_level),
    }
    return _finish(pd.DataFrame([row]), "lexical_baseline")


def partial_rows(
    scores: np.ndarray,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    taus: Sequence[float],
    lexical_matrix: np.ndarray,
    lexical_concepts: Sequence[str],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
    jaccards: Mapping[float, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """partial_alignment.csv rows: expert Jaccard vs MEN at each tau, controlling for lexical similarity.

    Uses the pairs whose concepts have both scores and a lexical vector. spearman is the plain
    Spearman of Jaccard vs MEN over those pairs; partial_spearman and p_value are Spearman's
    partial correlation given the pairs' lexical similarity (expertalign.stats.partial_spearman).
    jaccards: as in alignment_rows.
    """
    jaccards = expert_jaccards(scores, taus) if jaccards is None else jaccards
    shared = pairs_present(pairs_present(pairs, concepts), lexical_concepts)
    lexical = pair_similarities(lexical_matrix, lexical_concepts, shared)["similarity"]
    rows = []
    for tau in taus:
        similarities = pair_similarities(jaccards[float(tau)][0], concepts, shared)
        plain = spearman(similarities["similarity"], similarities["score"])
        partial = partial_spearman(similarities["similarity"], similarities["score"], lexical)
        rows.append(
            {
                "tau": float(tau),
                "n_pairs": len(shared),
                "spearman": plain["spearman"],
                "partial_spearman": partial["partial_spearman"],
                "p_value": partial["p_value"],
            }
        )
    return _finish(
        pd.DataFrame(rows), "partial_alignment", model=model, checkpoint=checkpoint, fold=fold, score=score
    )


def embedding_rows(
    embeddings: np.ndarray,
    words: Sequence[str],
    pairs: pd.DataFrame,
    *,
    model: str,
    checkpoint: str,
    pooling: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """The embedding_baseline.csv row (paper Fig. 3): cosine of word embeddings vs MEN.

    embeddings: [n_words, hidden] (one vector per concept id in `words`, e.g. the final hidden
    layer pooled over the word's tokens); pooling names how they were pooled.
    """
    similarities = pair_similarities(cosine_matrix(embeddings), words, pairs)
    row = _correlation_row(similarities, n_resamples, seed, confidence_level)
    return _finish(
        pd.DataFrame([row]), "embedding_baseline", model=model, checkpoint=checkpoint, pooling=pooling
    )


def _hierarchy_rows_of(
    scores: np.ndarray, concepts: Sequence[str], hierarchy: pd.DataFrame
) -> tuple[np.ndarray, list[str]]:
    """The score rows of the hierarchy concepts only (50 of 800), and their concept ids."""
    wanted = list(
        dict.fromkeys(c for d in parse_domains(hierarchy) for c in (d.super_concept, *d.sub_concepts))
    )
    index = concept_index(concepts)
    absent = [c for c in wanted if c not in index]
    if absent:
        raise ValueError(f"hierarchy concept(s) without scores: {absent}")
    return np.asarray(scores)[[index[c] for c in wanted]], wanted


def hierarchy_rows(
    scores: np.ndarray,
    concepts: Sequence[str],
    hierarchy: pd.DataFrame,
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
    iterations: int,
    seed: int,
) -> pd.DataFrame:
    """hierarchy.csv rows (paper Table 2, App. D): per tau and domain, the real overlap and the
    two baselines' means over `iterations` seeded draws (expertalign.hierarchy.hierarchy_table)."""
    rows, members = _hierarchy_rows_of(scores, concepts, hierarchy)
    tables = [
        hierarchy_table(expert_mask(rows, tau), members, hierarchy, iterations, seed).assign(tau=float(tau))
        for tau in taus
    ]
    return _finish(pd.concat(tables), "hierarchy", model=model, checkpoint=checkpoint, fold=fold, score=score)


def hierarchy_test_rows(hierarchy_results: pd.DataFrame, *, n_resamples: int, seed: int) -> pd.DataFrame:
    """hierarchy_tests.csv rows: for each (model, checkpoint, fold, score, tau) of a hierarchy.csv
    table, the permutation test of real overlaps vs each baseline (expertalign.hierarchy)."""
    keys = [*_RUN, "tau"]
    tables = [
        hierarchy_tests(group, n_resamples, seed).assign(**dict(zip(keys, key)))
        for key, group in hierarchy_results.groupby(keys, sort=False)
    ]
    if not tables:
        return pd.DataFrame(columns=TABLE_COLUMNS["hierarchy_tests"])
    return _finish(pd.concat(tables), "hierarchy_tests")


def hierarchy_pair_rows(
    scores: np.ndarray,
    concepts: Sequence[str],
    hierarchy: pd.DataFrame,
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
) -> pd.DataFrame:
    """hierarchy_pairs.csv rows (paper Fig. 4, App. E): 100 * Jaccard of every ordered pair of
    hierarchy concepts at each tau."""
    rows, members = _hierarchy_rows_of(scores, concepts, hierarchy)
    tables = [
        pairwise_overlap(expert_mask(rows, tau), members, hierarchy).assign(tau=float(tau)) for tau in taus
    ]
    return _finish(
        pd.concat(tables), "hierarchy_pairs", model=model, checkpoint=checkpoint, fold=fold, score=score
    )


def expert_count_rows(
    scores: np.ndarray,
    concepts: Sequence[str],
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
) -> pd.DataFrame:
    """expert_counts.csv rows (paper Fig. 5): expert-set size per concept and tau."""
    return _finish(
        expert_counts(scores, concepts, taus),
        "expert_counts",
        model=model,
        checkpoint=checkpoint,
        fold=fold,
        score=score,
    )


def checkpoint_stability_rows(
    scores_by_checkpoint: Mapping[str, ScoredConcepts],
    order: Sequence[str],
    taus: Sequence[float],
    *,
    model: str,
    fold: int,
    score: str,
) -> pd.DataFrame:
    """checkpoint_stability.csv rows (paper Fig. 6): Jaccard of each concept's expert set between
    consecutive checkpoints in `order` (NaN when both sets are empty)."""
    return _finish(
        checkpoint_stability(scores_by_checkpoint, order, taus),
        "checkpoint_stability",
        model=model,
        fold=fold,
        score=score,
    )


def layer_rows(
    scores: np.ndarray,
    unit_table: pd.DataFrame,
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
) -> pd.DataFrame:
    """layer_distribution.csv rows (paper Fig. 7, App. F): experts per module and tau."""
    return _finish(
        layer_distribution(scores, unit_table, taus),
        "layer_distribution",
        model=model,
        checkpoint=checkpoint,
        fold=fold,
        score=score,
    )


def fold_stability_rows(
    scores_by_fold: Mapping[int, ScoredConcepts],
    taus: Sequence[float],
    *,
    model: str,
    checkpoint: str,
    positive_size: int,
    negative_size: int,
    score: str,
) -> pd.DataFrame:
    """fold_stability.csv rows (paper Fig. 1): Jaccard of each concept's expert sets for every
    pair of folds of one (P, N) setting (NaN when both sets are empty)."""
    return _finish(
        fold_stability(scores_by_fold, taus),
        "fold_stability",
        model=model,
        checkpoint=checkpoint,
        positive_size=positive_size,
        negative_size=negative_size,
        score=score,
    )
