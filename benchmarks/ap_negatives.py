"""AP cost per concept on CPU: one shared set of N negatives (sorted once per job) against each
concept's own N negatives drawn from a fold pool of M (gathered and sorted per concept).

Pythia-70m width by default (27,648 units), P=400, N=1000, M=10,000; seeded float32 normals,
positives shifted by 0.1. Both schemes score the same positives, concept by concept, interleaved;
per concept is the median over ``--concepts`` concepts (the shared scheme's one sort is spread
over them).

    python benchmarks/ap_negatives.py --out benchmarks/results/ap_negatives.json
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from expertalign.expertise import SortedNegatives
from expertalign.workflow import write_json

log = logging.getLogger("benchmarks.ap_negatives")


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run(units: int, n_pos: int, n_neg: int, pool_size: int, concepts: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pool = torch.from_numpy(rng.standard_normal((pool_size, units), dtype=np.float32))
    positives = [torch.from_numpy(rng.standard_normal((n_pos, units), dtype=np.float32) + np.float32(0.1))
                 for _ in range(concepts)]
    rows = [torch.from_numpy(np.sort(rng.choice(pool_size, n_neg, replace=False))) for _ in range(concepts)]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    shared_negatives = SortedNegatives(pool[:n_neg])
    shared_sort_s = time.perf_counter() - start
    shared, own = [], []
    for pos, own_rows in zip(positives, rows):  # interleaved, so that a change in load hits both alike
        shared.append(timed(lambda: shared_negatives.scores(pos)))
        own.append(timed(lambda: SortedNegatives(pool[own_rows]).scores(pos)))
    shared_s = statistics.median(shared) + shared_sort_s / concepts
    own_s = statistics.median(own)
    return {
        "benchmark": "ap_negatives",
        "units": units, "positives": n_pos, "negatives": n_neg, "negative_pool": pool_size,
        "concepts": concepts, "seed": seed,
        "shared_per_concept_s": shared_s, "shared_sort_once_s": shared_sort_s, "shared_runs_s": shared,
        "own_per_concept_s": own_s, "own_runs_s": own, "ratio": own_s / shared_s,
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_before": load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=27_648, help="units (27,648 = pythia-70m)")
    parser.add_argument("--positive", type=int, default=400)
    parser.add_argument("--negative", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=10_000, help="M, the fold's negative pool")
    parser.add_argument("--concepts", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ap_negatives.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = run(args.units, args.positive, args.negative, args.pool, args.concepts, args.seed)
    write_json(result, args.out)
    log.info("per concept: shared %.3f s, own negatives %.3f s (%.2fx) -> %s", result["shared_per_concept_s"],
             result["own_per_concept_s"], result["ratio"], args.out)


if __name__ == "__main__":
    main()
