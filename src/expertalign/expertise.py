"""Exact, vectorised expertise scores of every unit: average precision (AP) and AUROC.

Each unit is a binary classifier of positive (about the concept) vs negative sentences, its
response the score. For positive i with response v_i, let tp_i = #positives >= v_i and
fp_i = #negatives >= v_i (ties included). Then, exactly as scikit-learn:

- ``average_precision_score`` = mean_i tp_i / (tp_i + fp_i)
- ``roc_auc_score`` = sum_i (#neg < v_i + 0.5 * #neg == v_i) / (n_pos * n_neg)

Both only need, per unit, the negatives sorted once and a binary search of each positive among
them (``searchsorted``), so negatives scored against several sets of positives are sorted once
(:class:`SortedNegatives`). Units are processed in chunks to bound memory; on CPU the rows are
sorted with NumPy (several times faster than ``torch.sort`` there) and chunks run on a thread
pool; on GPU everything stays in torch on the input's device.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


CPU_CHUNK_BYTES = 64 * 2**20  # working memory per CPU worker (small chunks stay cache-friendlier)
SEARCH_LOOP_MIN_WORK = 1024  # binary-search steps per unit above which NumPy's per-unit loop wins
TRANSPOSE_BLOCK = 256  # rows per block of the CPU transposing copy
BACKENDS = ("auto", "numpy", "torch")
GPU_MEMORY_FRACTION = 0.5  # share of free GPU memory one chunk may use
_BYTES_PER_VALUE = 128  # working bytes per (unit, value) in a chunk: sorted copy, sort indices, counts, ratios


def _as_matrix(x, name: str) -> torch.Tensor:
    """``x`` as a 2-D float tensor [rows, n_units] (float64 kept, other dtypes -> float32), no copy if possible."""
    tensor = torch.as_tensor(x)
    if tensor.dim() != 2:
        raise ValueError(f"{name} must be 2-D [sentences, units], got shape {tuple(tensor.shape)}")
    return tensor if tensor.dtype == torch.float64 else tensor.to(torch.float32)


def _transposed(x: np.ndarray, units: slice) -> np.ndarray:
    """Columns ``units`` of a [rows, n_units] array as a C-ordered [chunk_units, rows] copy.

    Copied in blocks of TRANSPOSE_BLOCK rows: each source block stays in cache (about 2x faster
    than one strided copy).
    """
    n_rows = x.shape[0]
    out = np.empty((len(range(*units.indices(x.shape[1]))), n_rows), dtype=x.dtype)
    for row in range(0, n_rows, TRANSPOSE_BLOCK):
        out[:, row : row + TRANSPOSE_BLOCK] = x[row : row + TRANSPOSE_BLOCK, units].T
    return out


def _sort_rows(x: torch.Tensor, units: slice) -> torch.Tensor:
    """Columns ``units`` of ``x`` [rows, n_units] as rows [chunk_units, rows], each sorted ascending.

    NumPy on CPU (its sort is several times faster than torch's there), torch elsewhere.
    """
    if x.device.type == "cpu":
        array = _transposed(x.numpy(), units)
        array.sort(axis=1)
        return torch.from_numpy(array)
    return torch.sort(x[:, units].T, dim=1).values


def _unit_rows(x: torch.Tensor, units: slice, name: str) -> torch.Tensor:
    """Columns ``units`` of a [sentences, n_units] matrix as sorted rows [chunk_units, sentences].

    Raises ValueError if any value is NaN or inf: after sorting they sit at the row ends (NaN last).
    """
    rows = _sort_rows(x, units)
    if rows.shape[1] and not bool(torch.isfinite(rows[:, [0, -1]]).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return rows


def _chunk_slices(n_units: int, chunk_size: int) -> list[slice]:
    return [slice(start, min(start + chunk_size, n_units)) for start in range(0, n_units, chunk_size)]


def _auto_chunk_size(device: torch.device, values_per_unit: int) -> int:
    """Units per chunk so that one chunk's working memory fits the budget of ``device``."""
    per_unit = _BYTES_PER_VALUE * max(values_per_unit, 1)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        budget = int(free * GPU_MEMORY_FRACTION)
    else:
        budget = CPU_CHUNK_BYTES
    return max(1, budget // per_unit)


def _workers(device: torch.device, n_chunks: int) -> int:
    return min(torch.get_num_threads(), n_chunks) if device.type == "cpu" else 1


def _map_chunks(function, slices: Sequence[slice], device: torch.device) -> list:
    """``[function(s) for s in slices]``, on a thread pool for CPU tensors (the work releases the GIL)."""
    workers = _workers(device, len(slices))
    if workers <= 1:
        return [function(s) for s in slices]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, slices))


def _searchsorted_rows(sorted_rows: np.ndarray, values: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted`` of each row of ``values`` [units, m] in the row of ``sorted_rows`` [units, n].

    NumPy has no batched form: a loop over units wins when each search is long (its binary
    search is ~2.5x faster than torch's on CPU), torch's batched search when calls are short.
    """
    n, m = sorted_rows.shape[1], values.shape[1]
    if m * max(np.log2(n + 1), 1.0) < SEARCH_LOOP_MIN_WORK:
        return torch.searchsorted(torch.from_numpy(sorted_rows), torch.from_numpy(values), side=side,
                                  out_int32=True).numpy()
    out = np.empty(values.shape, dtype=np.int32)
    for row in range(len(sorted_rows)):
        out[row] = np.searchsorted(sorted_rows[row], values[row], side=side)
    return out


def _counts_numpy(sorted_rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(#entries < v, #entries <= v) [units, m] int32 for row-sorted [units, n] and values [units, m].

    The second search (side right) runs only for units where some value equals an entry.
    """
    n = sorted_rows.shape[1]
    if n == 0:
        zeros = np.zeros(values.shape, dtype=np.int32)
        return zeros, zeros
    less = _searchsorted_rows(sorted_rows, values, "left")
    # A value equals some entry iff it equals the first entry not below it (none when less == n:
    # then the clipped index points at an entry below it).
    index = np.minimum(less, n - 1).astype(np.int64)
    index += (np.arange(len(sorted_rows)) * n)[:, None]
    tied = np.take(sorted_rows.reshape(-1), index) == values
    rows = np.flatnonzero(tied.any(axis=1))
    if not len(rows):
        return less, less
    less_equal = less.copy()
    less_equal[rows] = _searchsorted_rows(sorted_rows[rows], values[rows], "right")
    return less, less_equal


def _true_positives_numpy(sorted_pos: np.ndarray) -> np.ndarray:
    """[units, n_pos] float32: for each entry of row-sorted positives, #positives >= it (ties included).

    Without ties that is n_pos, n_pos - 1, ..., 1; rows with ties count from their first equal entry.
    """
    n_pos = sorted_pos.shape[1]
    true_pos = np.broadcast_to(np.arange(n_pos, 0, -1, dtype=np.float32), sorted_pos.shape).copy()
    repeats = sorted_pos[:, 1:] == sorted_pos[:, :-1]
    tied = np.flatnonzero(repeats.any(axis=1))
    if len(tied):
        starts = np.ones((len(tied), n_pos), dtype=bool)
        starts[:, 1:] = ~repeats[tied]
        first = np.maximum.accumulate(np.where(starts, np.arange(n_pos), 0), axis=1)
        true_pos[tied] = n_pos - first
    return true_pos


def _score_chunk_numpy(sorted_neg: torch.Tensor, sorted_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(AP, AUROC) [units] float64 of one chunk on CPU, in NumPy (see :func:`_score_chunk_torch`)."""
    pos = sorted_pos.numpy()
    n_neg = sorted_neg.shape[1]
    less, less_equal = _counts_numpy(sorted_neg.numpy(), pos)
    n_pos = pos.shape[1]
    true_pos = _true_positives_numpy(pos)  # float32 holds these integers (< 2**24) exactly
    denominator = true_pos + np.float32(n_neg)
    denominator -= less  # true + false positives: fp = n_neg - #negatives below
    ap = np.divide(true_pos, denominator, out=denominator).mean(axis=1, dtype=np.float64)
    if not n_neg:
        return torch.from_numpy(ap), torch.full((len(ap),), float("nan"), dtype=torch.float64)
    below = less.sum(axis=1) + (less.sum(axis=1) if less_equal is less else less_equal.sum(axis=1))
    return torch.from_numpy(ap), torch.from_numpy(below / (2.0 * n_pos * n_neg))


def _counts_torch(sorted_rows: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(#entries < v, #entries <= v) [units, m] with batched ``torch.searchsorted``."""
    less = torch.searchsorted(sorted_rows, values, side="left")
    n = sorted_rows.shape[1]
    if n == 0:
        return less, less
    tied = sorted_rows.gather(1, less.clamp(max=n - 1)) == values  # see _counts_numpy
    rows = tied.any(dim=1).nonzero().flatten()
    if not len(rows):
        return less, less
    less_equal = less.clone()
    less_equal[rows] = torch.searchsorted(sorted_rows[rows], values[rows], side="right")
    return less, less_equal


def _first_tie_torch(sorted_pos: torch.Tensor) -> torch.Tensor:
    """[units, n_pos]: for each entry of row-sorted positives, the index of its first equal entry."""
    starts = torch.ones_like(sorted_pos, dtype=torch.bool)
    starts[:, 1:] = sorted_pos[:, 1:] != sorted_pos[:, :-1]
    index = torch.arange(sorted_pos.shape[1], device=sorted_pos.device).expand_as(sorted_pos)
    return torch.where(starts, index, 0).cummax(dim=1).values


def _score_chunk_torch(sorted_neg: torch.Tensor, sorted_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(AP, AUROC) [units] float64 of one chunk of units, in torch on the tensors' device.

    ``sorted_neg`` [units, n_neg] and ``sorted_pos`` [units, n_pos] are row-sorted.
    """
    n_neg = sorted_neg.shape[1]
    less, less_equal = _counts_torch(sorted_neg, sorted_pos)
    n_pos = sorted_pos.shape[1]
    true_pos = (n_pos - _first_tie_torch(sorted_pos)).float()  # exact: integers < 2**24
    precision = true_pos / (true_pos + (n_neg - less).float())
    ap = precision.mean(dim=1, dtype=torch.float64)
    if n_neg == 0:
        return ap, torch.full_like(ap, float("nan"))
    return ap, (less + less_equal).sum(dim=1).double() / (2.0 * n_pos * n_neg)


class SortedNegatives:
    """Negative responses [n_neg, n_units], sorted once per unit, scored against one or more positive sets.

    ``scores(pos)`` gives exactly ``average_precision`` and ``auroc`` of ``pos`` against them.
    ``backend``: ``numpy`` (CPU only), ``torch`` (any device) or ``auto`` (NumPy on CPU, torch
    elsewhere, the faster of the two measured on each).
    """

    def __init__(self, neg, chunk_size: int | None = None, backend: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.neg = _as_matrix(neg, "neg")
        self.n_neg, self.n_units = self.neg.shape
        self.device = self.neg.device
        if backend == "auto":
            backend = "numpy" if self.device.type == "cpu" else "torch"
        if backend == "numpy" and self.device.type != "cpu":
            raise ValueError(f"the numpy backend needs CPU tensors, got {self.device}")
        self.backend = backend
        self.chunk_size = chunk_size
        self.sorted = self.neg.new_empty(self.n_units, self.n_neg)  # [n_units, n_neg], rows ascending

        def sort_chunk(units: slice) -> None:
            self.sorted[units] = _unit_rows(self.neg, units, "neg")

        _map_chunks(sort_chunk, _chunk_slices(self.n_units, self._chunk(self.n_neg)), self.device)

    def _chunk(self, values_per_unit: int) -> int:
        return self.chunk_size or _auto_chunk_size(self.device, values_per_unit)

    def scores(self, pos) -> tuple[torch.Tensor, torch.Tensor]:
        """(AP, AUROC), each [n_units] float32 on the negatives' device, of ``pos`` [n_pos, n_units].

        AUROC is NaN when there are no negatives.
        """
        pos = _as_matrix(pos, "pos").to(device=self.device, dtype=self.neg.dtype)
        if pos.shape[0] == 0:
            raise ValueError("pos has no rows: AP needs at least one positive")
        if pos.shape[1] != self.n_units:
            raise ValueError(f"pos has {pos.shape[1]} units, the negatives {self.n_units}")
        kernel = _score_chunk_numpy if self.backend == "numpy" else _score_chunk_torch

        def score(units: slice) -> tuple[torch.Tensor, torch.Tensor]:
            return kernel(self.sorted[units], _unit_rows(pos, units, "pos"))

        slices = _chunk_slices(self.n_units, self._chunk(pos.shape[0]))
        parts = _map_chunks(score, slices, self.device)
        ap = torch.cat([part[0] for part in parts]).float()
        auroc = torch.cat([part[1] for part in parts]).float()
        return ap, auroc


def average_precision(pos, neg, chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    """AP [n_units] float32 of each unit: positives ``pos`` [n_pos, n_units] vs ``neg`` [n_neg, n_units].

    Equal to ``sklearn.metrics.average_precision_score`` per unit (labels 1 for pos, 0 for neg),
    ties included. Torch tensors or NumPy arrays; runs on the input's device.
    """
    return SortedNegatives(neg, chunk_size, backend).scores(pos)[0]


def auroc(pos, neg, chunk_size: int | None = None, backend: str = "auto") -> torch.Tensor:
    """AUROC [n_units] float32 of each unit, equal to ``sklearn.metrics.roc_auc_score`` (ties count 0.5)."""
    return SortedNegatives(neg, chunk_size, backend).scores(pos)[1]


def expert_mask(scores, tau: float) -> np.ndarray:
    """Boolean mask of experts: ``scores > tau`` (strict), same shape as ``scores``."""
    return np.asarray(scores) > tau
