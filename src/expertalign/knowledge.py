"""Characterising model knowledge (paper Sec. 7, Fig. 5-7, App. F; Sec. 4, Fig. 1).

- expert_counts: expert-set size per concept and tau, raw and as a fraction of the units;
- checkpoint_stability: Jaccard of a concept's expert sets at consecutive checkpoints;
- layer_distribution: experts per module (block, sub-layer, layer);
- fold_stability: Jaccard of a concept's expert sets between every pair of folds.

Score matrices are [n_concepts, n_units] float32; every function scans them in unit chunks
(expertalign.similarity.UNIT_CHUNK) so that only chunk-sized boolean masks are built.
One empty-set rule across the project: the Jaccard of two empty expert sets (an empty union)
is 0, as in the alignment analysis (expertalign.similarity), and such pairs are flagged in an
empty_union column so that every summary can report how many there were.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from expertalign.similarity import UNIT_CHUNK, concept_index, unit_chunks

log = logging.getLogger(__name__)

UNIT_TABLE_COLUMNS = ("unit", "block", "sublayer", "layer")

ScoredConcepts = tuple[Sequence[str], np.ndarray]
"""A score matrix with its row labels: (concepts [n_c], scores [n_c, n_units])."""


def _check_scores(concepts: Sequence[str], scores: np.ndarray) -> None:
    if scores.ndim != 2 or scores.shape[0] != len(concepts):
        raise ValueError(f"scores shape {scores.shape} does not match {len(concepts)} concepts")


def _taus_array(taus: Sequence[float]) -> np.ndarray:
    taus = np.asarray(list(taus), dtype=np.float64)
    if taus.ndim != 1 or len(taus) == 0:
        raise ValueError(f"taus must be a non-empty list of thresholds, got {taus!r}")
    return taus


def count_experts(
    scores: np.ndarray, taus: Sequence[float], axis: int, chunk: int = UNIT_CHUNK
) -> np.ndarray:
    """Count scores > tau for each tau, summed over `axis`.

    scores: [n_concepts, n_units]. axis=1 gives experts per concept, [n_taus, n_concepts];
    axis=0 gives concepts per unit (how many concepts a unit is expert for), [n_taus, n_units].
    """
    taus = _taus_array(taus)
    if axis == 1:
        counts = np.zeros((len(taus), scores.shape[0]), dtype=np.int64)
    elif axis == 0:
        counts = np.zeros((len(taus), scores.shape[1]), dtype=np.int64)
    else:
        raise ValueError(f"axis must be 0 or 1, got {axis}")
    for units in unit_chunks(scores.shape[1], chunk):
        block = scores[:, units]
        for i, tau in enumerate(taus):
            above = (block > tau).sum(axis=axis)
            if axis == 1:
                counts[i] += above
            else:
                counts[i, units] = above
    return counts


def expert_counts(scores: np.ndarray, concepts: Sequence[str], taus: Sequence[float]) -> pd.DataFrame:
    """Expert-set size of every concept at every tau.

    scores: [n_concepts, n_units]. Returns DataFrame[tau, concept, n_experts, n_units, fraction]
    with fraction = n_experts / n_units (the paper's size scaled by the model's unit count).
    """
    _check_scores(concepts, scores)
    taus = _taus_array(taus)
    counts = count_experts(scores, taus, axis=1)
    n_units = scores.shape[1]
    return pd.DataFrame(
        {
            "tau": np.repeat(taus, len(concepts)),
            "concept": np.tile(np.asarray(concepts, dtype=object), len(taus)),
            "n_experts": counts.ravel(),
            "n_units": n_units,
            "fraction": counts.ravel() / n_units,
        }
    )


def rowwise_jaccard(
    scores_a: np.ndarray,
    rows_a: np.ndarray,
    scores_b: np.ndarray,
    rows_b: np.ndarray,
    taus: Sequence[float],
    chunk: int = UNIT_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard of E_a(c) and E_b(c) for matched rows, at each tau.

    scores_a, scores_b: [*, n_units] over the same units; rows_a, rows_b: [m] row indices
    pairing row rows_a[i] of a with row rows_b[i] of b. Returns (jaccard [n_taus, m] float64,
    empty_union [n_taus, m] bool); the Jaccard is 0 where both sets are empty (empty_union).
    """
    if scores_a.shape[1] != scores_b.shape[1]:
        raise ValueError(f"score matrices cover different units: {scores_a.shape[1]} vs {scores_b.shape[1]}")
    taus = _taus_array(taus)
    intersection = np.zeros((len(taus), len(rows_a)), dtype=np.int64)
    union = np.zeros_like(intersection)
    for units in unit_chunks(scores_a.shape[1], chunk):
        block_a, block_b = scores_a[rows_a, units], scores_b[rows_b, units]
        for i, tau in enumerate(taus):
            in_a, in_b = block_a > tau, block_b > tau
            intersection[i] += (in_a & in_b).sum(axis=1)
            union[i] += (in_a | in_b).sum(axis=1)
    jaccard = np.divide(intersection, union, out=np.zeros(intersection.shape), where=union > 0)
    return jaccard, union == 0


def _shared_concepts(
    first: ScoredConcepts, second: ScoredConcepts, label: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Concepts scored in both (in the first's order) and their row indices in each."""
    index_b = concept_index(second[0])
    shared = [c for c in first[0] if c in index_b]
    if len(shared) < len(first[0]) or len(shared) < len(second[0]):
        log.info(
            "%s: %d concepts scored in both (%d and %d in each)",
            label,
            len(shared),
            len(first[0]),
            len(second[0]),
        )
    index_a = concept_index(first[0])
    return (
        shared,
        np.array([index_a[c] for c in shared], dtype=np.int64),
        np.array([index_b[c] for c in shared], dtype=np.int64),
    )


def _jaccard_long(
    first: ScoredConcepts, second: ScoredConcepts, taus: np.ndarray, label: str
) -> pd.DataFrame:
    """DataFrame[tau, concept, jaccard, empty_union] of each shared concept's expert sets in first
    vs second (jaccard 0 where both sets are empty)."""
    for concepts, scores in (first, second):
        _check_scores(concepts, scores)
    shared, rows_a, rows_b = _shared_concepts(first, second, label)
    jaccard, empty_union = rowwise_jaccard(first[1], rows_a, second[1], rows_b, taus)
    return pd.DataFrame(
        {
            "tau": np.repeat(taus, len(shared)),
            "concept": np.tile(np.asarray(shared, dtype=object), len(taus)),
            "jaccard": jaccard.ravel(),
            "empty_union": empty_union.ravel(),
        }
    )


def checkpoint_stability(
    scores_by_checkpoint: Mapping[str, ScoredConcepts],
    order: Sequence[str],
    taus: Sequence[float],
) -> pd.DataFrame:
    """Jaccard of each concept's expert set between consecutive checkpoints (paper Fig. 6).

    scores_by_checkpoint: checkpoint -> (concepts, scores [n_c, n_units]); order: checkpoints in
    training order (a checkpoint in the mapping but not in `order` is ignored). Returns
    DataFrame[checkpoint, next_checkpoint, tau, concept, jaccard, empty_union]; jaccard 0 and
    empty_union True when both sets are empty.
    """
    absent = [c for c in order if c not in scores_by_checkpoint]
    if absent:
        raise ValueError(
            f"checkpoint(s) {absent} in order but without scores (have {list(scores_by_checkpoint)})"
        )
    taus = _taus_array(taus)
    tables = []
    for current, following in itertools.pairwise(order):
        table = _jaccard_long(
            scores_by_checkpoint[current],
            scores_by_checkpoint[following],
            taus,
            f"checkpoints {current} -> {following}",
        )
        tables.append(table.assign(checkpoint=current, next_checkpoint=following))
    columns = ["checkpoint", "next_checkpoint", "tau", "concept", "jaccard", "empty_union"]
    return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)


def fold_stability(scores_by_fold: Mapping[int, ScoredConcepts], taus: Sequence[float]) -> pd.DataFrame:
    """Jaccard of each concept's expert sets for every pair of folds (paper Sec. 4, Fig. 1).

    scores_by_fold: fold -> (concepts, scores [n_c, n_units]). Pairs (fold_a < fold_b) over the
    sorted fold ids. Returns DataFrame[tau, concept, fold_a, fold_b, jaccard, empty_union];
    jaccard 0 and empty_union True when both sets are empty.
    """
    taus = _taus_array(taus)
    tables = []
    for fold_a, fold_b in itertools.combinations(sorted(scores_by_fold), 2):
        table = _jaccard_long(
            scores_by_fold[fold_a], scores_by_fold[fold_b], taus, f"folds {fold_a} vs {fold_b}"
        )
        tables.append(table.assign(fold_a=fold_a, fold_b=fold_b))
    columns = ["tau", "concept", "fold_a", "fold_b", "jaccard", "empty_union"]
    return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)


def _module_groups(unit_table: pd.DataFrame, n_units: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct (block, sublayer, layer) modules and the module index of every unit [n_units]."""
    missing = [c for c in UNIT_TABLE_COLUMNS if c not in unit_table.columns]
    if missing:
        raise ValueError(f"unit table lacks column(s) {missing}")
    ordered = unit_table.sort_values("unit")
    if len(ordered) != n_units or not np.array_equal(ordered["unit"].to_numpy(), np.arange(n_units)):
        raise ValueError(
            f"unit table must list units 0..{n_units - 1} exactly once (has {len(unit_table)} rows)"
        )
    keys = ["block", "sublayer", "layer"]
    group_of_unit = ordered.groupby(keys, sort=True).ngroup().to_numpy()
    modules = ordered[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    return modules, group_of_unit


def layer_distribution(scores: np.ndarray, unit_table: pd.DataFrame, taus: Sequence[float]) -> pd.DataFrame:
    """Where the experts sit: per module (block, sublayer, layer) and tau (paper Fig. 7, App. F).

    scores: [n_concepts, n_units]; unit_table: one row per unit with unit (column index of
    scores), block, sublayer, layer. total_experts = sum over concepts of the module's experts;
    mean_experts = total_experts / n_concepts. Returns DataFrame[tau, block, sublayer, layer,
    n_units, mean_experts, total_experts].
    """
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be [n_concepts >= 1, n_units], got shape {scores.shape}")
    taus = _taus_array(taus)
    modules, group_of_unit = _module_groups(unit_table, scores.shape[1])
    n_modules = len(modules)
    units_per_module = np.bincount(group_of_unit, minlength=n_modules)
    concepts_per_unit = count_experts(scores, taus, axis=0)
    tables = []
    for tau, per_unit in zip(taus, concepts_per_unit):
        total = np.bincount(group_of_unit, weights=per_unit, minlength=n_modules).astype(np.int64)
        tables.append(
            modules.assign(
                tau=tau, n_units=units_per_module, mean_experts=total / scores.shape[0], total_experts=total
            )
        )
    return pd.concat(tables, ignore_index=True)[
        ["tau", "block", "sublayer", "layer", "n_units", "mean_experts", "total_experts"]
    ]
