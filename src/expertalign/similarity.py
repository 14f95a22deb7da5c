"""Similarity of concepts from their expertise scores: expert-set Jaccard and score cosine.

Score matrices are [n_concepts, n_units] float32 (up to 800 x 1.66M for Pythia 12b, 5.3 GB),
so everything here works on chunks of units and never builds a dense float64 copy: each chunk
is cast to float32 and multiplied, and the [n_concepts, n_concepts] products are accumulated in
float64.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Units per chunk: a [800, 65536] float32 chunk is 200 MB. Float32 sums of 0/1 products are
#: exact below 2**24 units, which a chunk never reaches.
UNIT_CHUNK = 65536


def unit_chunks(n_units: int, chunk: int = UNIT_CHUNK) -> Iterator[slice]:
    """Consecutive slices of at most `chunk` units covering 0..n_units-1."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for start in range(0, n_units, chunk):
        yield slice(start, min(start + chunk, n_units))


def expert_mask(scores: np.ndarray, tau: float) -> np.ndarray:
    """Expert sets as a boolean mask: unit u is an expert of concept c when scores[c, u] > tau.

    scores: [n_concepts, n_units] (AP, normalised AP or AUROC). Returns bool, same shape.
    """
    return np.asarray(scores) > tau


def check_2d(matrix: np.ndarray, name: str) -> None:
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-d [n_concepts, n_units], got shape {matrix.shape}")


def intersection_counts(mask: np.ndarray, chunk: int = UNIT_CHUNK) -> np.ndarray:
    """|A ∩ B| for every pair of expert sets: mask [n_c, n_units] bool -> [n_c, n_c] float64."""
    check_2d(mask, "mask")
    counts = np.zeros((mask.shape[0], mask.shape[0]), dtype=np.float64)
    for units in unit_chunks(mask.shape[1], chunk):
        block = mask[:, units].astype(np.float32)
        counts += block @ block.T
    return counts


def _jaccard_from_intersections(intersection: np.ndarray) -> np.ndarray:
    """Jaccard [n_c, n_c] from intersection counts whose diagonal holds the set sizes."""
    sizes = np.diag(intersection).copy()
    union = sizes[:, None] + sizes[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def jaccard_matrix(mask: np.ndarray, chunk: int = UNIT_CHUNK) -> np.ndarray:
    """Jaccard similarity |A ∩ B| / |A ∪ B| of every pair of expert sets.

    mask: [n_concepts, n_units] bool, row c = E(c). Returns [n_concepts, n_concepts] float64 in
    [0, 1], computed with float32 matrix products over unit chunks. Two empty sets (empty union)
    get 0, the project's one empty-set rule (expertalign.knowledge follows it too); the diagonal
    is 1 for non-empty sets.
    """
    return _jaccard_from_intersections(intersection_counts(np.asarray(mask, dtype=bool), chunk))


def expert_jaccards(
    scores: np.ndarray, taus: Sequence[float], chunk: int = UNIT_CHUNK
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Jaccard of the expert sets {u: scores[c, u] > tau} at every tau, in one pass over the units.

    Same result as jaccard_matrix(expert_mask(scores, tau)) without building the full
    [n_concepts, n_units] mask; each unit chunk is read once for all taus (a memory-mapped score
    file is streamed once). Returns {tau: (jaccard [n_c, n_c] float64, set sizes [n_c] int64)}.
    """
    scores = np.asarray(scores)
    check_2d(scores, "scores")
    intersections = {float(tau): np.zeros((scores.shape[0], scores.shape[0]), dtype=np.float64) for tau in taus}
    for units in unit_chunks(scores.shape[1], chunk):
        block = scores[:, units]
        for tau, intersection in intersections.items():
            mask = (block > tau).astype(np.float32)
            intersection += mask @ mask.T
    return {
        tau: (_jaccard_from_intersections(intersection), np.rint(np.diag(intersection)).astype(np.int64))
        for tau, intersection in intersections.items()
    }


def expert_jaccard(scores: np.ndarray, tau: float, chunk: int = UNIT_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """(jaccard [n_c, n_c] float64, set sizes [n_c] int64) of the expert sets at one tau (see expert_jaccards)."""
    return expert_jaccards(scores, [tau], chunk)[float(tau)]


def score_grams(x: np.ndarray, center: float, chunk: int = UNIT_CHUNK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gram matrices of the rows of x, of x - center and of sqrt(max(x - center, 0)), in one pass.

    x: [n_concepts, n_units] scores. The centred Gram matrix G_c and the mass Gram matrix are
    accumulated chunk by chunk (float32 products, float64 sums) with the row sums s; the raw one
    follows exactly as G = G_c + center * (s_a + s_b) - n_units * center**2, so the three cost one
    pass and two products. Each [n_concepts, n_concepts] float64 (expertalign.measures turns them
    into cosine, cosine_centered and hellinger with cosine_from_gram).
    """
    x = np.asarray(x)
    check_2d(x, "x")
    centered = np.zeros((x.shape[0], x.shape[0]), dtype=np.float64)
    mass = np.zeros_like(centered)
    sums = np.zeros(x.shape[0], dtype=np.float64)
    for units in unit_chunks(x.shape[1], chunk):
        block = x[:, units].astype(np.float32) - np.float32(center)
        root = np.sqrt(np.clip(block, 0, None))
        centered += block @ block.T
        mass += root @ root.T
        sums += block.sum(axis=1, dtype=np.float64) + center * (units.stop - units.start)
    raw = centered + center * (sums[:, None] + sums[None, :]) - x.shape[1] * center**2
    return raw, centered, mass


def cosine_from_gram(gram: np.ndarray) -> np.ndarray:
    """Cosine [n, n] from a Gram matrix of dot products; 0 wherever a norm is 0."""
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    outer = norms[:, None] * norms[None, :]
    return np.divide(gram, outer, out=np.zeros_like(gram), where=outer > 0)


def concept_index(concepts: Sequence[str]) -> dict[str, int]:
    """Row index of each concept id; ValueError on duplicates."""
    index = {concept: i for i, concept in enumerate(concepts)}
    if len(index) != len(concepts):
        duplicated = sorted(c for c, count in Counter(concepts).items() if count > 1)
        raise ValueError(f"duplicate concept ids: {duplicated}")
    return index


def pairs_present(pairs: pd.DataFrame, concepts: Sequence[str]) -> pd.DataFrame:
    """The rows of `pairs` (word1, word2, score, ...) whose two concepts are both in `concepts`."""
    missing = {"word1", "word2", "score"} - set(pairs.columns)
    if missing:
        raise ValueError(f"pairs table lacks column(s) {sorted(missing)}")
    known = set(concepts)
    present = pairs["word1"].isin(known) & pairs["word2"].isin(known)
    if not present.all():
        log.info("%d of %d pairs left out: a concept has no scores", int((~present).sum()), len(pairs))
    return pairs.loc[present].reset_index(drop=True)


def pair_similarities(
    matrix: np.ndarray,
    concepts: Sequence[str],
    pairs: pd.DataFrame,
    undefined: np.ndarray | None = None,
) -> pd.DataFrame:
    """Look up the similarity of each pair (e.g. MEN) in a concept-by-concept matrix.

    matrix: [n_c, n_c] similarities, rows/columns in `concepts` order. pairs: DataFrame with
    word1, word2 (concept ids) and score; pairs with a concept not in `concepts` are left out.
    undefined: [n_c, n_c] bool, True where the similarity is undefined and counted as 0 (two
    empty expert sets, expertalign.measures); a pair's empty_union is its entry (False without it).

    Returns DataFrame[word1, word2, score, similarity, empty_union], one row per kept pair.
    """
    matrix = np.asarray(matrix)
    if matrix.shape != (len(concepts), len(concepts)):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(concepts)} concepts")
    index = concept_index(concepts)
    kept = pairs_present(pairs, concepts)
    rows = kept["word1"].map(index).to_numpy(dtype=np.int64)
    cols = kept["word2"].map(index).to_numpy(dtype=np.int64)
    empty_union = np.zeros(len(kept), dtype=bool) if undefined is None else np.asarray(undefined)[rows, cols]
    return pd.DataFrame(
        {
            "word1": kept["word1"].to_numpy(),
            "word2": kept["word2"].to_numpy(),
            "score": kept["score"].to_numpy(dtype=np.float64),
            "similarity": matrix[rows, cols].astype(np.float64),
            "empty_union": empty_union,
        }
    )
