"""Expertise scores (AP, AUROC) of every unit for the concepts of one fold, and their score files.

A job loads one model checkpoint, runs the fold's negative pool (all N + K sentences) through the
model once, sorts the first N negatives per unit once, then streams concepts: run the concept's
positives, and score them against the first N negatives minus the concept's own sentences plus
the next foreign ones after N (the fold contract's rule, ``expertalign.folds.negatives_for``).

Score file (npz): concepts [n_c] str, ap [n_c, n_units] float32, auroc [n_c, n_units] float32,
n_pos [n_c] int64, n_neg [n_c] int64.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from expertalign.expertise import SortedNegatives, normalized_ap
from expertalign.folds import negatives_for
from expertalign.responses import PROGRESS_INTERVAL_S, record_responses
from expertalign.workflow import atomic_path

log = logging.getLogger(__name__)

SCORES = ("ap", "ap_normalized", "auroc")
RESULT_KEYS = ("concepts", "ap", "auroc", "n_pos", "n_neg")
POOL_COLUMNS = ("sentence_id", "concept", "sentence")


class StageTimer:
    """Wall-clock seconds per named stage, summed over calls (CUDA work is waited for)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def stage(self, name: str, device: torch.device | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if device is not None and device.type == "cuda":
                torch.cuda.synchronize(device)
            self.seconds[name] += time.perf_counter() - start


def _check_pool(pool: pd.DataFrame) -> None:
    missing = [column for column in POOL_COLUMNS if column not in pool.columns]
    if missing:
        raise ValueError(f"sentence pool lacks columns {missing}")
    if not np.array_equal(pool["sentence_id"].to_numpy(), np.arange(len(pool))):
        raise ValueError("sentence pool: sentence_id must be 0..n-1 in row order")


def negative_edits(fold: Mapping, concept: str, sentence_concepts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(remove, add): positions in the fold's negative pool that turn its first N into ``concept``'s negatives.

    ``remove``: positions < N holding the concept's own sentences; ``add``: positions >= N of the
    foreign sentences that replace them (the contract's "first N ids not its own").
    """
    pool = np.asarray(fold["negative_pool"], dtype=np.int64)
    size = fold["negative_size"]
    chosen = np.isin(pool, negatives_for(fold, concept, sentence_concepts))
    positions = np.arange(len(pool))
    return positions[:size][~chosen[:size]], positions[size:][chosen[size:]]


def extract_scores(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    module_names: Sequence[str],
    pool: pd.DataFrame,
    fold: Mapping,
    concepts: Sequence[str],
    batch_size: int = 32,
    pooling: str = "max",
    max_length: int = 128,
    device: torch.device | str | None = None,
    timer: StageTimer | None = None,
    progress: bool = True,
) -> dict:
    """AP and AUROC of every unit for each of ``concepts`` in ``fold``.

    ``pool``: the sentence pool table (sentence_id 0..n-1, concept, sentence); ``fold``: the fold
    dict of the contract. Responses and scores are computed on ``device`` (default: the model's).
    Returns {concepts: list[str], ap, auroc: [n_c, n_units] float32, n_pos, n_neg: [n_c] int64}.
    ``timer`` (optional) accumulates seconds in stages forward_negatives, forward_positives, ap.
    """
    _check_pool(pool)
    unknown = [concept for concept in concepts if concept not in fold["positives"]]
    if unknown:
        raise ValueError(f"fold {fold['fold']} has no positives for {unknown}")
    timer = timer or StageTimer()
    device = torch.device(device) if device is not None else model.get_input_embeddings().weight.device
    sentences = pool["sentence"].to_numpy()
    sentence_concepts = pool.set_index("sentence_id")["concept"]
    size = fold["negative_size"]

    def responses(ids: Sequence[int], bar: bool = False) -> torch.Tensor:
        return record_responses(model, tokenizer, list(sentences[np.asarray(ids, dtype=np.int64)]), module_names,
                                batch_size=batch_size, pooling=pooling, max_length=max_length, progress=bar,
                                output_device=device)

    with timer.stage("forward_negatives", device):
        negative_pool = responses(fold["negative_pool"], bar=progress)
    with timer.stage("ap", device):
        negatives = SortedNegatives(negative_pool[:size])
    ap, auroc, n_pos = [], [], []
    for concept in tqdm(concepts, desc="concepts", unit="concept", mininterval=PROGRESS_INTERVAL_S,
                        disable=not progress):
        with timer.stage("forward_positives", device):
            positives = responses(fold["positives"][concept])
        with timer.stage("ap", device):
            remove, add = negative_edits(fold, concept, sentence_concepts)
            concept_ap, concept_auroc = negatives.scores(positives, remove=remove, add=negative_pool[add])
            ap.append(concept_ap.cpu().numpy())
            auroc.append(concept_auroc.cpu().numpy())
        n_pos.append(len(positives))
    log.info("fold %s, %d concepts: %s", fold["fold"], len(concepts),
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timer.seconds.items()))
    n_units = negative_pool.shape[1]
    return {
        "concepts": list(concepts),
        "ap": np.stack(ap) if ap else np.zeros((0, n_units), dtype=np.float32),
        "auroc": np.stack(auroc) if auroc else np.zeros((0, n_units), dtype=np.float32),
        "n_pos": np.asarray(n_pos, dtype=np.int64),
        "n_neg": np.full(len(concepts), size, dtype=np.int64),
    }


def _check_result(result: Mapping, where: str) -> None:
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    n_concepts = len(result["concepts"])
    if len(set(result["concepts"])) != n_concepts:
        raise ValueError(f"{where}: concepts are not unique")
    if np.shape(result["ap"]) != np.shape(result["auroc"]) or np.ndim(result["ap"]) != 2:
        raise ValueError(f"{where}: ap and auroc must be matrices of one shape [n_concepts, n_units]")
    for key in ("ap", "n_pos", "n_neg"):
        if len(result[key]) != n_concepts:
            raise ValueError(f"{where}: {key} has {len(result[key])} rows for {n_concepts} concepts")


def save_scores(path: str | os.PathLike, result: Mapping) -> None:
    """Write an extraction result as an uncompressed .npz, atomically."""
    _check_result(result, f"scores for {path}")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            concepts=np.asarray(result["concepts"], dtype=str),
            ap=np.asarray(result["ap"], dtype=np.float32),
            auroc=np.asarray(result["auroc"], dtype=np.float32),
            n_pos=np.asarray(result["n_pos"], dtype=np.int64),
            n_neg=np.asarray(result["n_neg"], dtype=np.int64),
        )


def read_scores(path: str | os.PathLike) -> dict:
    """The whole result stored in a score file (the dict :func:`extract_scores` returns)."""
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in RESULT_KEYS if key not in data.files]
        if missing:
            raise ValueError(f"score file {path} lacks {missing}")
        result = {key: data[key] for key in RESULT_KEYS}
    result["concepts"] = result["concepts"].tolist()
    _check_result(result, f"score file {path}")
    return result


def load_scores(path: str | os.PathLike, score: str = "ap") -> tuple[list[str], np.ndarray]:
    """(concepts, scores [n_c, n_units] float32) of a score file for ``score`` in ap | ap_normalized | auroc.

    ap_normalized = (ap - r) / (1 - r), r = n_pos / (n_pos + n_neg) of each concept.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    result = read_scores(path)
    if score == "ap_normalized":
        values = normalized_ap(result["ap"], result["n_pos"], result["n_neg"])
    else:
        values = result[score]
    return result["concepts"], values.astype(np.float32)


def merge_scores(paths: Sequence[str | os.PathLike]) -> dict:
    """One result from shard score files (concepts concatenated in the given order, each once)."""
    if not paths:
        raise ValueError("no score files to merge")
    shards = [read_scores(path) for path in paths]
    widths = {shard["ap"].shape[1] for shard in shards}
    if len(widths) != 1:
        raise ValueError(f"shards have different numbers of units: {sorted(widths)}")
    concepts = [concept for shard in shards for concept in shard["concepts"]]
    repeated = sorted(concept for concept, count in Counter(concepts).items() if count > 1)
    if repeated:
        raise ValueError(f"concepts in more than one shard: {repeated}")
    merged = {key: np.concatenate([shard[key] for shard in shards]) for key in RESULT_KEYS if key != "concepts"}
    return {"concepts": concepts, **merged}
