"""Folds: which sentences are each concept's positives and negatives.

For fold k, one ``numpy.random.Generator(PCG64(seed + k))`` draws, in this order:
1. for each concept in sorted order, P positives from its pool without replacement
   (``rng.permutation(pool size)[:P]`` over the pool's sentence ids in ascending order; the ids are
   stored sorted);
2. the negative pool: ``rng.permutation`` of all sentence ids of the fold's concepts (ascending),
   truncated to N + K, K = the largest pool size.
A concept's N negatives are the first N ids of the negative pool that are not its own, so the
model runs once on a fold's negatives and every concept draws from them. PCG64 streams and
``permutation`` are stable across platforms, so folds are reproducible across machines.

Fold file (JSON): {"fold", "seed", "positive_size", "negative_size", "negative_pool",
"positives": {concept: [ids]}, "small_pools": [concepts whose whole pool (< P) was used]}.
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

FOLD_KEYS = ("fold", "seed", "positive_size", "negative_size", "negative_pool", "positives",
             "small_pools")


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


def make_fold(pools: Mapping[str, np.ndarray], positive_size: int, negative_size: int, fold: int,
              seed: int, allow_small_pool: bool = False) -> dict:
    """Fold ``fold`` (see the module docstring) from {concept: sorted sentence ids}."""
    rng = np.random.Generator(np.random.PCG64(seed + fold))
    positives, small = {}, []
    for concept in sorted(pools):
        drawn, is_small = _positives(rng, pools[concept], concept, positive_size, allow_small_pool)
        positives[concept] = drawn.tolist()
        if is_small:
            small.append(concept)
    all_ids = np.sort(np.concatenate(list(pools.values())))
    largest = max(pool.size for pool in pools.values())
    if all_ids.size < negative_size + largest:
        raise FoldError(
            f"{all_ids.size} sentences in all, fewer than negative_size {negative_size} + the "
            f"largest pool {largest}: not every concept would find {negative_size} negatives"
        )
    negative_pool = all_ids[rng.permutation(all_ids.size)[: negative_size + largest]]
    return {
        "fold": fold,
        "seed": seed,
        "positive_size": positive_size,
        "negative_size": negative_size,
        "negative_pool": negative_pool.tolist(),
        "positives": positives,
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
) -> list[dict]:
    """``n_folds`` folds over the given concepts.

    ``pool_concepts``: the concept of each sentence, indexed by sentence_id (e.g.
    ``pool["concept"]`` of results/sentences/pool.parquet). Sentences of concepts not listed are
    ignored. A pool smaller than P raises FoldError naming the concept and sizes, unless
    ``allow_small_pool`` (then its whole pool is used and it is listed in small_pools).
    """
    pools = _checked_pools(pool_concepts, concepts, positive_size, negative_size, n_folds)
    folds = [make_fold(pools, positive_size, negative_size, k, seed, allow_small_pool)
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
) -> dict:
    """Fold ``fold`` alone, equal to ``make_folds(..., n_folds=fold + 1, ...)[fold]`` (one job, one fold)."""
    pools = _checked_pools(pool_concepts, concepts, positive_size, negative_size, fold + 1)
    drawn = make_fold(pools, positive_size, negative_size, fold, seed, allow_small_pool)
    _warn_small(drawn, positive_size)
    return drawn


def negatives_for(fold: Mapping, concept: str,
                  sentence_concepts: pd.Series | Sequence[str]) -> np.ndarray:
    """The N negative sentence ids [N] (int64) of ``concept``: the first N of the pool not its own.

    ``sentence_concepts`` gives the concept of each sentence: a Series indexed by sentence_id, or
    a sequence whose position is the sentence_id.
    """
    pool = np.asarray(fold["negative_pool"], dtype=np.int64)
    if isinstance(sentence_concepts, pd.Series):
        owners = sentence_concepts.reindex(pool).to_numpy()
    else:
        owners = np.asarray(sentence_concepts, dtype=object)[pool]
    negatives = pool[owners != concept][: fold["negative_size"]]
    if negatives.size < fold["negative_size"]:
        raise FoldError(
            f"fold {fold['fold']}: only {negatives.size} negatives for {concept}, "
            f"{fold['negative_size']} needed"
        )
    return negatives


def save_fold(path: str | os.PathLike, fold: Mapping) -> None:
    """Write a fold as JSON, atomically."""
    missing = [key for key in FOLD_KEYS if key not in fold]
    if missing:
        raise FoldError(f"fold to save at {path} lacks {missing}")
    payload = json.dumps({key: fold[key] for key in FOLD_KEYS}, separators=(",", ":"))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(payload + "\n", encoding="utf-8")


def load_fold(path: str | os.PathLike) -> dict:
    """Read a fold file, checking it has every key of the fold contract."""
    path = Path(path)
    try:
        fold = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FoldError(f"{path}: not JSON ({error})") from None
    for key in FOLD_KEYS:
        if key not in fold:
            raise FoldError(f"{path}: missing key {key!r}")
    size = fold["positive_size"]
    for concept, ids in fold["positives"].items():
        if len(ids) != size and concept not in fold["small_pools"]:
            raise FoldError(f"{path}: {concept} has {len(ids)} positives, expected {size}")
    return fold
