"""AP of every unit on CPU: the vectorised expertalign path against the per-unit scikit-learn loop.

Same data for both (seeded float32 normals, positives shifted by 0.1), one run each, as in the
reference implementation (apple/ml-selfcond calls ``average_precision_score`` once per unit).
Peak memory: the process's resident-set high-water mark during each run minus its resident size
before it (Linux: /proc/self/clear_refs resets the mark).

    python benchmarks/ap_cpu.py --out benchmarks/results/ap_cpu.json
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from expertalign.expertise import SortedNegatives
from expertalign.workflow import write_json

log = logging.getLogger("benchmarks.ap_cpu")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measured(function):
    """(result, seconds, peak extra resident memory in MiB) of ``function()``."""
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current size
    before = _status_kb("VmRSS")
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    return result, seconds, (_status_kb("VmHWM") - before) / 1024


def sklearn_loop(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The reference: one ``average_precision_score`` call per unit."""
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    values = np.concatenate([pos, neg])
    return np.array([average_precision_score(labels, values[:, unit]) for unit in range(values.shape[1])])


def vectorised(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, float, float]:
    """AP from expertalign (sorting the negatives included); also the seconds of each step."""
    start = time.perf_counter()
    negatives = SortedNegatives(neg)
    sorted_at = time.perf_counter()
    ap = negatives.scores(pos)[0].numpy()
    return ap, sorted_at - start, time.perf_counter() - sorted_at


def run(units: int, n_pos: int, n_neg: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    neg = rng.standard_normal((n_neg, units), dtype=np.float32)
    pos = rng.standard_normal((n_pos, units), dtype=np.float32) + np.float32(0.1)
    load_before = os.getloadavg()[0]
    (ap, sort_s, score_s), fast_s, fast_mb = measured(lambda: vectorised(pos, neg))
    log.info("vectorised: %.2f s (sort negatives %.2f s, score positives %.2f s)", fast_s, sort_s, score_s)
    reference, slow_s, slow_mb = measured(lambda: sklearn_loop(pos, neg))
    log.info("sklearn loop: %.1f s", slow_s)
    return {
        "benchmark": "ap_cpu",
        "units": units, "positives": n_pos, "negatives": n_neg, "seed": seed,
        "vectorised_s": fast_s, "vectorised_sort_negatives_s": sort_s, "vectorised_score_positives_s": score_s,
        "sklearn_loop_s": slow_s, "ratio": slow_s / fast_s,
        "vectorised_peak_mb": fast_mb, "sklearn_loop_peak_mb": slow_mb,
        "max_abs_diff": float(np.max(np.abs(ap - reference))),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_before": load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=27_648, help="units (27,648 = pythia-70m)")
    parser.add_argument("--positive", type=int, default=400)
    parser.add_argument("--negative", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ap_cpu.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = run(args.units, args.positive, args.negative, args.seed)
    write_json(result, args.out)
    log.info("ratio %.1fx, max |diff| %.2e -> %s", result["ratio"], result["max_abs_diff"], args.out)


if __name__ == "__main__":
    main()
