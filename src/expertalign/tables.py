"""Builders of the result tables: score matrices and inputs in memory -> tidy DataFrames.

Each builder returns exactly the columns of one contract table (TABLE_COLUMNS, in that order),
adding the identifying columns (model, checkpoint, fold, score, ...) given as keyword
arguments. The workflow scripts load inputs, call one builder and write the CSV.

Centring of the "cosine_centered" measure (paper App. B, "AP - 0.5"): every score is centred
on its chance level, CHANCE_CENTER: 0.5 for ap (as the paper), 0.5 for auroc (its chance level
whatever the class balance) and 0 for ap_normalized (already (AP - r) / (1 - r), chance 0), so
for ap_normalized the centred cosine equals the raw one.

Empty sets, one rule everywhere: the Jaccard of two empty expert sets (an empty union) is 0,
in alignment, checkpoint and fold stability alike, and the number of such pairs is reported
beside each result (n_empty_union, or the empty_union flag of a per-concept row).

Fold summaries (the *_summary builders): every per-fold table is also summarised over folds,
per condition: mean, sd (ddof=1), min and max over folds and n_folds (expertalign.stats
fold_summary), with ci_low/ci_high = the mean over folds of each fold's bootstrap CI bounds
(the CI of one typical fold; folds share sentences, so their estimates are not independent
samples and no CI of the fold mean is claimed).
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
from expertalign.measures import MEASURES, Similarities, parse_matrix_name
from expertalign.similarity import concept_index, expert_mask, pair_similarities, pairs_present
from expertalign.stats import fold_summary, mean_ci_table, partial_spearman, spearman, spearman_with_ci

log = logging.getLogger(__name__)

CHANCE_CENTER = {"ap": 0.5, "auroc": 0.5, "ap_normalized": 0.0}

_RUN = ["model", "checkpoint", "fold", "score"]
_CORRELATION = ["n_pairs", "spearman", "p_value", "ci_low", "ci_high", "n_degenerate_resamples"]
_FOLD_SUMMARY = ["mean", "sd", "min", "max", "n_folds"]
TABLE_COLUMNS: dict[str, list[str]] = {
    "alignment": [
        "dataset",
        *_RUN,
        "measure",
        "tau",
        "n_pairs",
        "n_empty_union",
        "spearman",
        "p_value",
        "ci_low",
        "ci_high",
        "n_degenerate_resamples",
    ],
    "lexical_baseline": ["dataset", "measure", "weighting", "n_empty_union", *_CORRELATION],
    "partial_alignment": ["dataset", *_RUN, "tau", "n_pairs", "spearman", "partial_spearman", "p_value"],
    "embedding_baseline": ["dataset", "model", "checkpoint", "baseline", "pooling", "n_empty_union", *_CORRELATION],
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
        "empty_union",
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
        "empty_union",
    ],
    "alignment_summary": [
        "dataset",
        "model",
        "checkpoint",
        "score",
        "measure",
        "tau",
        *_FOLD_SUMMARY,
        "ci_low",
        "ci_high",
        "n_pairs",
        "n_empty_union",
        "n_degenerate_resamples",
    ],
    "expert_counts_summary": [
        "model",
        "checkpoint",
        "score",
        "tau",
        *_FOLD_SUMMARY,
        "ci_low",
        "ci_high",
        "n_concepts",
    ],
    "checkpoint_stability_summary": [
        "model",
        "checkpoint",
        "next_checkpoint",
        "score",
        "tau",
        *_FOLD_SUMMARY,
        "ci_low",
        "ci_high",
        "n_concepts",
        "n_empty_union",
    ],
    "hierarchy_summary": [
        "model",
        "checkpoint",
        "score",
        "tau",
        "domain",
        *_FOLD_SUMMARY,
        "baseline1",
        "baseline2",
        "n_empty_intersection",
    ],
    "cross_dataset": [
        "dataset",
        "ceiling",
        "model",
        "checkpoint",
        "kind",
        "method",
        "tau",
        *_FOLD_SUMMARY,
        "ci_low",
        "ci_high",
        "n_pairs",
    ],
    "hierarchy_tests_summary": [
        "model",
        "checkpoint",
        "score",
        "tau",
        "baseline",
        "n_folds",
        "mean_real",
        "mean_baseline",
        "statistic",
        "p_median",
        "p_min",
        "p_max",
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
    """Spearman of similarity vs human score over the pairs of a pair_similarities table."""
    result = spearman_with_ci(
        similarities["similarity"], similarities["score"], n_resamples, seed, confidence_level
    )
    return {"n_pairs": result.pop("n"), **result}


def correlation_rows(
    similarities: Similarities,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    kind: str,
    *,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Spearman of each similarity matrix of `kind` (expertalign.measures) vs human judgements.

    similarities: {matrix name: (similarity [n_c, n_c], undefined [n_c, n_c] bool)} over `concepts`;
    pairs: a dataset's pairs (word1, word2, score), only those with both concepts present are used.
    Returns DataFrame[measure, tau, n_pairs, n_empty_union, spearman, p_value, ci_low, ci_high,
    n_degenerate_resamples], one row per matrix, in the registry's measure order then tau.
    An undefined similarity counts as 0 and in n_empty_union.
    """
    rows = []
    for name, (matrix, undefined) in similarities.items():
        measure, tau = parse_matrix_name(name)
        if MEASURES[measure].kind != kind:
            continue
        table = pair_similarities(np.where(undefined, 0.0, matrix), concepts, pairs, undefined=undefined)
        rows.append(
            {
                "measure": measure,
                "tau": tau,
                "n_empty_union": int(table["empty_union"].sum()),
                **_correlation_row(table, n_resamples, seed, confidence_level),
            }
        )
    order = list(MEASURES)
    rows.sort(key=lambda row: (order.index(row["measure"]), row["tau"]))
    columns = ["measure", "tau", "n_empty_union", "n_pairs", *_CORRELATION[1:]]
    return pd.DataFrame(rows, columns=columns)


def alignment_rows(
    similarities: Similarities,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    *,
    dataset: str,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Alignment with human similarity (paper Fig. 2 and 8): the alignment.csv rows of one fold and dataset.

    similarities: the expert measures of one score file (expertalign.measures.expert_similarities):
    Jaccard of the expert sets at every tau (an empty union counts as 0 and in n_empty_union),
    cosine, cosine_centered and hellinger (tau NaN).
    """
    rows = correlation_rows(
        similarities, concepts, pairs, "experts", n_resamples=n_resamples, seed=seed,
        confidence_level=confidence_level,
    )
    return _finish(rows, "alignment", dataset=dataset, model=model, checkpoint=checkpoint, fold=fold, score=score)


def lexical_rows(
    similarities: Similarities,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    *,
    dataset: str,
    weighting: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """The lexical_baseline.csv row of one dataset: Spearman of lexical pool similarity
    (expertalign.lexical.lexical_similarity, as measure "lexical") vs human judgements."""
    rows = correlation_rows(
        similarities, concepts, pairs, "lexical", n_resamples=n_resamples, seed=seed,
        confidence_level=confidence_level,
    )
    return _finish(rows, "lexical_baseline", dataset=dataset, weighting=weighting)


def partial_rows(
    similarities: Similarities,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    lexical: Similarities,
    lexical_concepts: Sequence[str],
    *,
    dataset: str,
    model: str,
    checkpoint: str,
    fold: int,
    score: str,
) -> pd.DataFrame:
    """partial_alignment.csv rows: expert Jaccard vs human scores at each tau, controlling for
    lexical similarity.

    Uses the pairs whose concepts have both scores and a lexical vector. spearman is the plain
    Spearman of Jaccard vs the human score over those pairs; partial_spearman and p_value are
    Spearman's partial correlation given the pairs' lexical similarity (expertalign.stats.partial_spearman).
    """
    shared = pairs_present(pairs_present(pairs, concepts), lexical_concepts)
    lexical_matrix, _ = lexical["lexical"]
    lexical_values = pair_similarities(lexical_matrix, lexical_concepts, shared)["similarity"]
    rows = []
    for name, (matrix, undefined) in similarities.items():
        measure, tau = parse_matrix_name(name)
        if measure != "jaccard":
            continue
        table = pair_similarities(np.where(undefined, 0.0, matrix), concepts, shared)
        plain = spearman(table["similarity"], table["score"])
        partial = partial_spearman(table["similarity"], table["score"], lexical_values)
        rows.append(
            {
                "tau": tau,
                "n_pairs": len(shared),
                "spearman": plain["spearman"],
                "partial_spearman": partial["partial_spearman"],
                "p_value": partial["p_value"],
            }
        )
    rows.sort(key=lambda row: row["tau"])
    return _finish(
        pd.DataFrame(rows, columns=["tau", "n_pairs", "spearman", "partial_spearman", "p_value"]),
        "partial_alignment", dataset=dataset, model=model, checkpoint=checkpoint, fold=fold, score=score,
    )


def embedding_rows(
    similarities: Similarities,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    *,
    dataset: str,
    model: str,
    checkpoint: str,
    pooling: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """embedding_baseline.csv rows (paper Fig. 3 and the later version's baselines): cosine of each
    embedding baseline (word, word_space, contextual, sentence_pool; expertalign.embeddings) vs
    human judgements; pooling names how a word's tokens were pooled."""
    rows = correlation_rows(
        similarities, concepts, pairs, "embedding", n_resamples=n_resamples, seed=seed,
        confidence_level=confidence_level,
    ).rename(columns={"measure": "baseline"})
    return _finish(rows, "embedding_baseline", dataset=dataset, model=model, checkpoint=checkpoint, pooling=pooling)


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
    consecutive checkpoints in `order` (0, and empty_union True, when both sets are empty)."""
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
    pair of folds of one (P, N) setting (0, and empty_union True, when both sets are empty)."""
    return _finish(
        fold_stability(scores_by_fold, taus),
        "fold_stability",
        model=model,
        checkpoint=checkpoint,
        positive_size=positive_size,
        negative_size=negative_size,
        score=score,
    )


# ----------------------------------------------------------------------------- fold summaries


def alignment_summary(alignment: pd.DataFrame) -> pd.DataFrame:
    """alignment_summary.csv (Fig. 2, 3, 8): Spearman with MEN over folds, per model, checkpoint,
    score, measure and tau.

    mean/sd/min/max/n_folds of spearman over folds, ci_low/ci_high the mean per-fold bootstrap
    CI bounds (module docstring); n_pairs and n_empty_union are means per fold,
    n_degenerate_resamples the total over folds.
    """
    summary = fold_summary(
        alignment,
        ["dataset", "model", "checkpoint", "score", "measure", "tau"],
        "spearman",
        carry={"n_pairs": "mean", "n_empty_union": "mean", "n_degenerate_resamples": "sum"},
    )
    return _finish(summary, "alignment_summary")


def concept_mean_by_fold(
    df: pd.DataFrame,
    by: list[str],
    value: str,
    *,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
    flag: str | None = None,
) -> pd.DataFrame:
    """Mean of `value` over concepts per group of `by` and fold, with its bootstrap CI over concepts.

    df: one row per concept (and by..., fold). Returns DataFrame[by..., fold, mean, ci_low,
    ci_high, n_concepts] (expertalign.stats.mean_ci_table), plus n_<flag> = the number of rows
    whose boolean column `flag` is True (e.g. flag="empty_union" gives n_empty_union).
    """
    keys = [*by, "fold"]
    table = mean_ci_table(df, keys, value, n_resamples, seed, confidence_level).rename(columns={"n": "n_concepts"})
    if flag is None:
        return table
    if flag not in df.columns:
        raise ValueError(f"concept_mean_by_fold: flag column {flag!r} not in the table (has {list(df.columns)})")
    counts = df.groupby(keys, sort=True, dropna=False)[flag].sum().astype(int).rename(f"n_{flag}").reset_index()
    return table.merge(counts, on=keys, how="left")


def concept_mean_summary(
    df: pd.DataFrame,
    by: list[str],
    value: str,
    *,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
    flag: str | None = None,
) -> pd.DataFrame:
    """Per group of `by`: the mean over concepts of `value` in each fold, summarised over folds.

    Returns DataFrame[by..., mean, sd, min, max, n_folds, ci_low, ci_high, n_concepts(, n_<flag>)]:
    mean/sd/min/max over folds of the per-fold concept means (concept_mean_by_fold), the mean
    per-fold bootstrap CI bounds, and n_concepts (n_<flag>) as means per fold.
    """
    per_fold = concept_mean_by_fold(
        df, by, value, n_resamples=n_resamples, seed=seed, confidence_level=confidence_level, flag=flag
    )
    carry = {"n_concepts": "mean", **({f"n_{flag}": "mean"} if flag else {})}
    return fold_summary(per_fold, by, "mean", carry=carry)


def expert_count_summary(
    expert_counts: pd.DataFrame, *, n_resamples: int, seed: int, confidence_level: float = 0.95
) -> pd.DataFrame:
    """expert_counts_summary.csv (Fig. 5): experts per concept (mean over concepts) over folds,
    per model, checkpoint, score and tau (concept_mean_summary of n_experts)."""
    summary = concept_mean_summary(
        expert_counts,
        ["model", "checkpoint", "score", "tau"],
        "n_experts",
        n_resamples=n_resamples,
        seed=seed,
        confidence_level=confidence_level,
    )
    return _finish(summary, "expert_counts_summary")


def checkpoint_stability_summary(
    checkpoint_stability: pd.DataFrame, *, n_resamples: int, seed: int, confidence_level: float = 0.95
) -> pd.DataFrame:
    """checkpoint_stability_summary.csv (Fig. 6): Jaccard between consecutive checkpoints (mean
    over concepts, empty unions counted as 0) over folds; n_empty_union = such concepts per fold."""
    summary = concept_mean_summary(
        checkpoint_stability,
        ["model", "checkpoint", "next_checkpoint", "score", "tau"],
        "jaccard",
        n_resamples=n_resamples,
        seed=seed,
        confidence_level=confidence_level,
        flag="empty_union",
    )
    return _finish(summary, "checkpoint_stability_summary")


def hierarchy_summary(hierarchy: pd.DataFrame) -> pd.DataFrame:
    """hierarchy_summary.csv (Table 2): each domain's overlap (percent) over folds, with the
    baselines' means over folds and n_empty_intersection = folds where the sub-ordinates share
    no expert (overlap 0 there)."""
    summary = fold_summary(
        hierarchy,
        ["model", "checkpoint", "score", "tau", "domain"],
        "overlap",
        carry={"baseline1": "mean", "baseline2": "mean", "empty_intersection": "sum"},
    )
    summary = summary.rename(columns={"empty_intersection": "n_empty_intersection"})
    return _finish(summary.astype({"n_empty_intersection": int}), "hierarchy_summary")


def hierarchy_test_summary(hierarchy_tests: pd.DataFrame) -> pd.DataFrame:
    """hierarchy_tests_summary.csv (Table 2): the per-fold permutation tests of real vs each
    baseline, over folds: n_folds, the mean of mean_real, mean_baseline and statistic, and the
    median, min and max of the folds' p-values."""
    keys = ["model", "checkpoint", "score", "tau", "baseline"]
    missing = [c for c in [*keys, "fold", "mean_real", "mean_baseline", "statistic", "p_value"]
               if c not in hierarchy_tests.columns]
    if missing:
        raise ValueError(f"hierarchy_tests table lacks column(s) {missing}")
    summary = (
        hierarchy_tests.groupby(keys, sort=True, dropna=False)
        .agg(
            n_folds=("fold", "nunique"),
            mean_real=("mean_real", "mean"),
            mean_baseline=("mean_baseline", "mean"),
            statistic=("statistic", "mean"),
            p_median=("p_value", "median"),
            p_min=("p_value", "min"),
            p_max=("p_value", "max"),
        )
        .reset_index()
    )
    return _finish(summary, "hierarchy_tests_summary")


def cross_dataset_rows(
    alignment_summary: pd.DataFrame,
    embedding: pd.DataFrame,
    lexical: pd.DataFrame,
    *,
    tau: float,
    ceilings: Mapping[str, float | None],
) -> pd.DataFrame:
    """cross_dataset.csv (the later paper's claim, Fig. 10): per dataset, model and checkpoint, the
    alignment of every expert measure (Jaccard at `tau` only) over folds, and of each embedding
    baseline and the lexical baseline (one estimate each: n_folds 1, sd NaN, min = max = mean),
    with their bootstrap CIs and the dataset's human ceiling (NaN when unknown).

    alignment_summary, embedding, lexical: the alignment_summary, embedding_baseline and
    lexical_baseline tables. The lexical rows repeat for every model and checkpoint.
    """
    experts = alignment_summary[
        (alignment_summary["measure"] != "jaccard") | np.isclose(alignment_summary["tau"], tau)
    ]
    if not np.isclose(alignment_summary.loc[alignment_summary["measure"] == "jaccard", "tau"], tau).any():
        raise ValueError(f"cross_dataset: no Jaccard rows at tau {tau} in the alignment summary")
    experts = experts.assign(kind="experts", method=experts["measure"])
    one = dict(sd=np.nan, n_folds=1)
    baselines = embedding.assign(kind="embedding", method=embedding["baseline"], tau=np.nan, mean=embedding["spearman"],
                                 min=embedding["spearman"], max=embedding["spearman"], **one)
    runs = pd.concat([experts, baselines])[["dataset", "model", "checkpoint"]].drop_duplicates()
    words = lexical.assign(kind="lexical", method=lexical["measure"], tau=np.nan, mean=lexical["spearman"],
                           min=lexical["spearman"], max=lexical["spearman"], **one).drop(columns=["measure"])
    words = words.merge(runs, on="dataset")
    table = pd.concat([experts, baselines, words], ignore_index=True)
    table["ceiling"] = table["dataset"].map(lambda name: ceilings.get(name)).astype(float)
    table["order"] = table["method"].map({name: i for i, name in enumerate(MEASURES)})
    return _finish(table.sort_values(["dataset", "model", "checkpoint", "order"], kind="stable"), "cross_dataset")


#: Builder of each summary table from its per-fold table (the summaries that need resampling
#: take n_resamples, seed and confidence_level).
FOLD_SUMMARIES = {
    "alignment": alignment_summary,
    "expert_counts": expert_count_summary,
    "checkpoint_stability": checkpoint_stability_summary,
    "hierarchy": hierarchy_summary,
    "hierarchy_tests": hierarchy_test_summary,
}
RESAMPLED_SUMMARIES = ("expert_counts", "checkpoint_stability")


def summarise_folds(name: str, table: pd.DataFrame, *, n_resamples: int, seed: int,
                    confidence_level: float = 0.95) -> pd.DataFrame:
    """The {name}_summary table of a gathered per-fold table `name` (FOLD_SUMMARIES)."""
    if name not in FOLD_SUMMARIES:
        raise ValueError(f"no fold summary for table {name!r}; expected one of {sorted(FOLD_SUMMARIES)}")
    if name in RESAMPLED_SUMMARIES:
        return FOLD_SUMMARIES[name](table, n_resamples=n_resamples, seed=seed, confidence_level=confidence_level)
    return FOLD_SUMMARIES[name](table)
