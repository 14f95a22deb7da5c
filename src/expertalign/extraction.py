"""Expertise scores (AP, AUROC) of every unit for the concepts of one fold, from the model's responses.

A job loads one model checkpoint, runs the fold's negative pool (its M sentences) through the
model once, then streams concepts: run the concept's positives, and score them against the
responses of the concept's own N negatives (gathered from the pool's, sorted per unit; the fold
contract, ``expertalign.folds``). Positives of several concepts share length-sorted batches while
their responses fit a memory budget. A series of folds over the same concepts (the pilot sweep)
runs each sentence once.

Score files are written and read by :mod:`expertalign.scores` (no torch there).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from expertalign.expertise import SortedNegatives
from expertalign.folds import negatives_for
from expertalign.models import module_widths
from expertalign.responses import PROGRESS_INTERVAL_S, input_device, record_responses

log = logging.getLogger(__name__)

POOL_COLUMNS = ("sentence_id", "concept", "sentence")
CPU_RESPONSE_BYTES = 2**30  # responses held at once on CPU
GPU_RESPONSE_FRACTION = 0.25  # share of free GPU memory they may take


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


def negative_rows(fold: Mapping, concept: str) -> np.ndarray:
    """Row indices [N] (int64) of ``concept``'s negatives in the fold's negative pool (its sorted ids)."""
    pool = np.asarray(fold["negative_pool"], dtype=np.int64)
    negatives = negatives_for(fold, concept)
    rows = np.searchsorted(pool, negatives)
    if (rows >= len(pool)).any() or not np.array_equal(pool[np.minimum(rows, len(pool) - 1)], negatives):
        raise ValueError(f"fold {fold['fold']}: negatives of {concept} are not all in its sorted negative_pool")
    return rows


def response_budget(device: torch.device) -> int:
    """Bytes of float32 responses held at once on ``device`` (one group of concepts' positives,
    or the sentences shared by a series of folds).

    CUDA: a quarter of the free memory (the AP step's unit chunks take their share of the rest);
    CPU: CPU_RESPONSE_BYTES.
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * GPU_RESPONSE_FRACTION)
    return CPU_RESPONSE_BYTES


def concept_chunks(counts: Sequence[int], row_bytes: int, budget_bytes: int) -> list[list[int]]:
    """Consecutive concept indices grouped so that each group's positives take <= ``budget_bytes``.

    ``counts[c]``: positives of concept c; ``row_bytes``: bytes of one sentence's responses. A
    concept whose positives alone exceed the budget forms a group of its own.
    """
    chunks: list[list[int]] = []
    used = 0
    for index, count in enumerate(counts):
        size = count * row_bytes
        if not chunks or used + size > budget_bytes:
            chunks.append([])
            used = 0
        chunks[-1].append(index)
        used += size
    return chunks


class ResponseCache:
    """Responses [n_ids, n_units] recorded once for a set of sentence ids, looked up by id."""

    def __init__(self, ids: Sequence[int], responses: torch.Tensor):
        if len(ids) != responses.shape[0]:
            raise ValueError(f"{len(ids)} ids for {responses.shape[0]} response rows")
        self.row = {int(i): row for row, i in enumerate(ids)}
        self.responses = responses

    def lookup(self, ids: Sequence[int]) -> torch.Tensor | None:
        """Responses [len(ids), n_units] of ``ids`` in their order, or None if one was not recorded."""
        rows = [self.row.get(int(i)) for i in ids]
        if None in rows:
            return None
        return self.responses[torch.as_tensor(rows, device=self.responses.device)]


def fold_sentence_ids(fold: Mapping, concepts: Sequence[str]) -> set[int]:
    """Every sentence id that scoring ``concepts`` in ``fold`` runs through the model."""
    ids = set(fold["negative_pool"])
    for concept in concepts:
        ids.update(fold["positives"][concept])
    return ids


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
    budget_bytes: int | None = None,
    cache: ResponseCache | None = None,
) -> dict:
    """AP and AUROC of every unit for each of ``concepts`` in ``fold``.

    ``pool``: the sentence pool table (sentence_id 0..n-1, concept, sentence); ``fold``: the fold
    dict of the contract. Responses and scores are computed on ``device`` (default: the model's).
    Returns {concepts: list[str], ap, auroc: [n_c, n_units] float32, n_pos, n_neg: [n_c] int64}.
    ``timer`` (optional) accumulates seconds in stages forward_negatives, forward_positives, ap.
    Positives of consecutive concepts run through the model together (full, length-sorted
    batches) as long as their responses fit ``budget_bytes`` (default :func:`response_budget`).
    Sentences found in ``cache`` are looked up instead of run.
    """
    _check_pool(pool)
    unknown = [concept for concept in concepts if concept not in fold["positives"]]
    if unknown:
        raise ValueError(f"fold {fold['fold']} has no positives for {unknown}")
    timer = timer or StageTimer()
    device = torch.device(device) if device is not None else input_device(model)
    sentences = pool["sentence"].to_numpy()
    size = fold["negative_size"]

    def responses(ids: Sequence[int], bar: bool = False) -> torch.Tensor:
        if cache is not None and (found := cache.lookup(ids)) is not None:
            return found.to(device)
        return record_responses(model, tokenizer, list(sentences[np.asarray(ids, dtype=np.int64)]), module_names,
                                batch_size=batch_size, pooling=pooling, max_length=max_length, progress=bar,
                                output_device=device)

    with timer.stage("forward_negatives", device):
        negative_pool = responses(fold["negative_pool"], bar=progress)
    n_units = negative_pool.shape[1]
    if budget_bytes is None:
        budget_bytes = response_budget(device)
    counts = [len(fold["positives"][concept]) for concept in concepts]
    ap, auroc = [], []
    bar = tqdm(total=len(concepts), desc="concepts", unit="concept", mininterval=PROGRESS_INTERVAL_S,
               disable=not progress)
    with bar:
        for chunk in concept_chunks(counts, 4 * n_units, budget_bytes):
            with timer.stage("forward_positives", device):
                chunk_positives = responses([i for c in chunk for i in fold["positives"][concepts[c]]], bar=progress)
            offsets = np.cumsum([0] + [counts[c] for c in chunk])
            for c, start, stop in zip(chunk, offsets[:-1], offsets[1:]):
                with timer.stage("ap", device):
                    rows = torch.as_tensor(negative_rows(fold, concepts[c]), device=negative_pool.device)
                    negatives = SortedNegatives(negative_pool[rows])
                    concept_ap, concept_auroc = negatives.scores(chunk_positives[start:stop])
                    ap.append(concept_ap.float())  # stays on the device: one copy to the host at the end
                    auroc.append(concept_auroc.float())
                bar.update(1)
            del chunk_positives
    log.info("fold %s, %d concepts: %s", fold["fold"], len(concepts),
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timer.seconds.items()))
    return {
        "concepts": list(concepts),
        "ap": torch.stack(ap).cpu().numpy() if ap else np.zeros((0, n_units), dtype=np.float32),
        "auroc": torch.stack(auroc).cpu().numpy() if auroc else np.zeros((0, n_units), dtype=np.float32),
        "n_pos": np.asarray(counts, dtype=np.int64),
        "n_neg": np.full(len(concepts), size, dtype=np.int64),
    }


def extract_fold_series(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    module_names: Sequence[str],
    pool: pd.DataFrame,
    folds: Sequence[Mapping],
    concepts: Sequence[str],
    budget_bytes: int | None = None,
    **options,
) -> Iterator[dict]:
    """:func:`extract_scores` of ``concepts`` in each of ``folds`` (e.g. the pilot's), in order.

    When the responses to every sentence the folds use fit ``budget_bytes``, each sentence runs
    through the model once for all folds; otherwise each fold runs its own. ``options``: the
    keyword arguments of :func:`extract_scores` (batch_size, pooling, max_length, device, timer, progress).
    """
    _check_pool(pool)
    timer = options.setdefault("timer", StageTimer())
    device = options["device"] = torch.device(options.get("device") or input_device(model))
    budget_bytes = response_budget(device) if budget_bytes is None else budget_bytes
    ids = sorted(set().union(*(fold_sentence_ids(fold, concepts) for fold in folds)))
    cache = None
    if len(ids) * 4 * sum(module_widths(model, module_names)) <= budget_bytes:
        forward = {key: value for key, value in options.items() if key != "timer"}
        with timer.stage("forward_shared", device):
            sentences = list(pool["sentence"].to_numpy()[ids])  # sentence_id is the row number (_check_pool)
            cache = ResponseCache(ids, record_responses(model, tokenizer, sentences, module_names,
                                                        output_device=device, **forward))
        log.info("%d sentences of %d folds run once: %.1f s", len(ids), len(folds), timer.seconds["forward_shared"])
    for fold in folds:
        yield extract_scores(model, tokenizer, module_names, pool, fold, concepts, budget_bytes=budget_bytes,
                             cache=cache, **options)
