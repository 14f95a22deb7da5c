"""Folds: which sentences are each concept's positives and negatives.

For fold k, one ``numpy.random.Generator(PCG64(seed + k))`` draws, in this order:
1. for each concept in sorted order, P positives from its pool without replacement
   (``rng.permutation(pool size)[:P]`` over the pool's sentence ids in ascending order; the ids are
   stored sorted);
2. the fold's negative pool: ``rng.permutation`` of all sentence ids of the fold's concepts
   (ascending), truncated to M = ``negative_pool_size`` (default 10 N, capped at every sentence;
   ``"all"``: every sentence, the paper's sampling); stored sorted;
3. for each concept in sorted order, its own N negatives: ``rng.choice(n, N, replace=False)`` over
   the n pool ids that are not its own (ascending); stored sorted.
Each concept thus gets independent random negatives (measured: one shared set of N for every
concept makes the alignment of one fold swing 3-4x more between draws), while the model still runs
once on the M sentences of the pool. M >= N + the largest concept pool, so every concept finds N.
PCG64 streams are stable across platforms; the drawn ids are stored, so a fold file alone says
which sentences were used.

Fold file (JSON): {"fold", "seed", "positive_size", "negative_size", "negative_pool_size",
"negative_pool": [M ids], "positives": {concept: [ids]}, "negatives": {concept: [N ids]},
"small_pools": [concepts whose whole pool (< P) was used]}.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from expertalign.workflow import atomic_path

log = logging.getLogger(__name__)

FOLD_KEYS = ("fold", "seed", "positive_size", "negative_size", "negative_pool_size", "negative_pool", "positives",
             "negatives", "small_pools")
POOL_FACTOR = 10  # default negative pool: POOL_FACTOR x N sentences (as spread-free as independent draws)
ALL = "all"  # negative_pool_size that takes every sentence of the fold's concepts


class FoldError(ValueError):
    """Folds cannot be drawn as asked, or a fold file is malformed."""


def _pools(pool_concepts: pd.Series, concepts: Sequence[str]) -> dict[str, np.ndarray]:
    """Sorted sentence ids (int64) of each concept, in sorted concept order; FoldError if empty."""
    if not pool_concepts.index.is_unique:
        raise FoldError("pool_concepts: sentence ids (the index) must be unique")
    if len(set(concepts)) != len(concepts):
        raise FoldError("concepts: each concept may appear only once")
    ids = pool_concepts.index.to_numpy(dtype=np.int64)
    owners = pool_concepts.to_numpy()
    groups = {concept: np.sort(ids[owners == concept]) for concept in sorted(concepts)}
    empty = [concept for concept, pool in groups.items() if pool.size == 0]
    if empty:
        raise FoldError(f"no sentences in the pool for {empty}")
    return groups


def _positives(rng: np.random.Generator, pool: np.ndarray, concept: str, positive_size: int,
               allow_small_pool: bool) -> tuple[np.ndarray, bool]:
    """P ids drawn from ``pool`` (sorted), or the whole pool when it is small and that is allowed."""
    if pool.size < positive_size:
        if not allow_small_pool:
            raise FoldError(
                f"{concept}: pool has {pool.size} sentences, fewer than positive_size "
                f"{positive_size} (set folds.allow_small_pool to use whole small pools)"
            )
        return pool, True
    return np.sort(pool[rng.permutation(pool.size)[:positive_size]]), False


def pool_size(negative_pool_size: int | str | None, negative_size: int, n_sentences: int) -> int:
    """M, the sentences of a fold's negative pool: an integer, ``"all"`` (``n_sentences``) or None
    (POOL_FACTOR x ``negative_size``, at most ``n_sentences``)."""
    if negative_pool_size is None:
        return min(POOL_FACTOR * negative_size, n_sentences)
    if negative_pool_size == ALL:
        return n_sentences
    if isinstance(negative_pool_size, bool) or not isinstance(negative_pool_size, int) or negative_pool_size < 1:
        raise FoldError(f"negative_pool_size must be an integer >= 1, {ALL!r} or None, got {negative_pool_size!r}")
    if negative_pool_size > n_sentences:
        raise FoldError(f"negative_pool_size {negative_pool_size} exceeds the {n_sentences} sentences of the concepts")
    return negative_pool_size


def _negatives(rng: np.random.Generator, negative_pool: np.ndarray, pools: Mapping[str, np.ndarray],
               negative_size: int) -> dict[str, list[int]]:
    """Each concept's N negatives (sorted ids), drawn without replacement from the pool ids not its own."""
    negatives = {}
    for concept in sorted(pools):
        foreign = negative_pool[~np.isin(negative_pool, pools[concept], assume_unique=True)]
        negatives[concept] = np.sort(foreign[rng.choice(foreign.size, negative_size, replace=False)]).tolist()
    return negatives


def make_fold(pools: Mapping[str, np.ndarray], positive_size: int, negative_size: int, fold: int,
              seed: int, allow_small_pool: bool = False, negative_pool_size: int | str | None = None) -> dict:
    """Fold ``fold`` (see the module docstring) from {concept: sorted sentence ids}."""
    rng = np.random.Generator(np.random.PCG64(seed + fold))
    positives, small = {}, []
    for concept in sorted(pools):
        drawn, is_small = _positives(rng, pools[concept], concept, positive_size, allow_small_pool)
        positives[concept] = drawn.tolist()
        if is_small:
            small.append(concept)
    all_ids = np.sort(np.concatenate(list(pools.values())))
    size = pool_size(negative_pool_size, negative_size, all_ids.size)
    largest = max(pool.size for pool in pools.values())
    if size < negative_size + largest:
        raise FoldError(
            f"negative pool of {size} sentences (negative_pool_size {negative_pool_size!r}, {all_ids.size} "
            f"sentences in all) is smaller than negative_size {negative_size} + the largest pool {largest}: "
            f"not every concept would find {negative_size} negatives"
        )
    negative_pool = np.sort(all_ids[rng.permutation(all_ids.size)[:size]])
    return {
        "fold": fold,
        "seed": seed,
        "positive_size": positive_size,
        "negative_size": negative_size,
        "negative_pool_size": size,
        "negative_pool": negative_pool.tolist(),
        "positives": positives,
        "negatives": _negatives(rng, negative_pool, pools, negative_size),
        "small_pools": small,
    }


def _checked_pools(pool_concepts: pd.Series, concepts: Sequence[str], positive_size: int,
                   negative_size: int, n_folds: int) -> dict[str, np.ndarray]:
    """The concepts' sorted sentence ids after checking the sizes; FoldError naming the bad one."""
    if positive_size < 1 or negative_size < 1 or n_folds < 1:
        raise FoldError(
            f"positive_size ({positive_size}), negative_size ({negative_size}) and n_folds "
            f"({n_folds}) must be >= 1"
        )
    if not concepts:
        raise FoldError("no concepts to draw folds for")
    return _pools(pool_concepts, list(concepts))


def _warn_small(fold: dict, positive_size: int) -> None:
    if fold["small_pools"]:
        log.warning("whole pools used (smaller than P=%d): %s", positive_size, fold["small_pools"])


def make_folds(
    pool_concepts: pd.Series,
    concepts: Sequence[str],
    positive_size: int,
    negative_size: int,
    n_folds: int,
    seed: int,
    allow_small_pool: bool = False,
    negative_pool_size: int | str | None = None,
) -> list[dict]:
    """``n_folds`` folds over the given concepts.

    ``pool_concepts``: the concept of each sentence, indexed by sentence_id (e.g.
    ``pool["concept"]`` of results/sentences/pool.parquet). Sentences of concepts not listed are
    ignored. A pool smaller than P raises FoldError naming the concept and sizes, unless
    ``allow_small_pool`` (then its whole pool is used and it is listed in small_pools).
    ``negative_pool_size``: M (see :func:`pool_size`).
    """
    pools = _checked_pools(pool_concepts, concepts, positive_size, negative_size, n_folds)
    folds = [make_fold(pools, positive_size, negative_size, k, seed, allow_small_pool, negative_pool_size)
             for k in range(n_folds)]
    _warn_small(folds[0], positive_size)
    return folds


def draw_fold(
    pool_concepts: pd.Series,
    concepts: Sequence[str],
    positive_size: int,
    negative_size: int,
    fold: int,
    seed: int,
    allow_small_pool: bool = False,
    negative_pool_size: int | str | None = None,
) -> dict:
    """Fold ``fold`` alone, equal to ``make_folds(..., n_folds=fold + 1, ...)[fold]`` (one job, one fold)."""
    pools = _checked_pools(pool_concepts, concepts, positive_size, negative_size, fold + 1)
    drawn = make_fold(pools, positive_size, negative_size, fold, seed, allow_small_pool, negative_pool_size)
    _warn_small(drawn, positive_size)
    return drawn


def negatives_for(fold: Mapping, concept: str) -> np.ndarray:
    """The N negative sentence ids [N] (int64, ascending) of ``concept`` in ``fold``."""
    if concept not in fold["negatives"]:
        raise FoldError(f"fold {fold['fold']} has no negatives for {concept}")
    return np.asarray(fold["negatives"][concept], dtype=np.int64)


def _check_fold(fold: Mapping, where: str) -> None:
    """FoldError naming ``where`` and the bad key unless ``fold`` satisfies the fold contract."""
    for key in FOLD_KEYS:
        if key not in fold:
            raise FoldError(f"{where}: missing key {key!r}")
    size = fold["positive_size"]
    for concept, ids in fold["positives"].items():
        if len(ids) != size and concept not in fold["small_pools"]:
            raise FoldError(f"{where}: {concept} has {len(ids)} positives, expected {size}")
    pool = np.asarray(fold["negative_pool"], dtype=np.int64)
    if len(pool) != fold["negative_pool_size"] or len(np.unique(pool)) != len(pool):
        raise FoldError(f"{where}: negative_pool must hold negative_pool_size ({fold['negative_pool_size']}) "
                        f"distinct ids, has {len(pool)} ({len(np.unique(pool))} distinct)")
    if set(fold["negatives"]) != set(fold["positives"]):
        raise FoldError(f"{where}: negatives and positives must name the same concepts")
    for concept, ids in fold["negatives"].items():
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != fold["negative_size"] or len(np.unique(ids)) != len(ids):
            raise FoldError(f"{where}: {concept} needs {fold['negative_size']} distinct negatives, has {len(ids)}")
        if not np.isin(ids, pool).all():
            raise FoldError(f"{where}: negatives of {concept} are not all in negative_pool")
        if np.isin(ids, fold["positives"][concept]).any():
            raise FoldError(f"{where}: negatives of {concept} include its own positives")


def save_fold(path: str | os.PathLike, fold: Mapping) -> None:
    """Write a fold as JSON, atomically."""
    _check_fold(fold, f"fold to save at {path}")
    payload = json.dumps({key: fold[key] for key in FOLD_KEYS}, separators=(",", ":"))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(payload + "\n", encoding="utf-8")


def load_fold(path: str | os.PathLike) -> dict:
    """Read a fold file, checking it against the fold contract (FoldError naming the file and key)."""
    path = Path(path)
    try:
        fold = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FoldError(f"{path}: not JSON ({error})") from None
    _check_fold(fold, str(path))
    return fold
