"""How many experts change with the forward pass's precision, and with float16 score storage.

Runs the workflow's extraction (``make_folds`` -> ``extract_scores``) on the built-in concept
sentences (first ``--concepts`` concepts, P=30, N=75: the embedded default's sizes) with the
model in float32, bfloat16 and float16 on the CPU, for the packaged all-MiniLM-L6-v2 (real
weights) and the tiny GPT-NeoX of the tests (random weights).
Against float32, per tau: mean over concepts of the Jaccard between expert sets, the fraction
of expert memberships (concept x unit) that flip, and the mean expert-set sizes. "storage" does
the same for float32 AP saved as float16 (``extraction.score_dtype``). A dtype whose forward
pass fails is recorded with its error.

    python benchmarks/precision.py --out benchmarks/results/precision.json
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from expertalign.extraction import extract_scores
from expertalign.folds import make_folds
from expertalign.knowledge import rowwise_jaccard
from expertalign.models import load_model, select_modules
from expertalign.generation import pool_table
from expertalign.workflow import read_jsonl, write_json

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from tiny_models import build_tiny_model  # noqa: E402

log = logging.getLogger("benchmarks.precision")
DTYPES = ("float32", "bfloat16", "float16")
TAUS = (0.5, 0.6, 0.7, 0.8, 0.9)


def builtin_pool(n_concepts: int) -> tuple[pd.DataFrame, list[str]]:
    """The built-in sentence pool and its first ``n_concepts`` concepts (sorted)."""
    records = read_jsonl(REPO / "resources" / "sentences" / "builtin.jsonl")
    pools: dict[str, list[dict]] = {}
    for record in records:
        pools.setdefault(record["concept"], []).append(record)
    pool, _ = pool_table(pools, "builtin")
    return pool, sorted(pools)[:n_concepts]


def compare(reference: np.ndarray, other: np.ndarray) -> list[dict]:
    """Per tau: expert-set agreement of ``other`` [n_c, n_units] with ``reference`` (scores > tau)."""
    rows = np.arange(len(reference))
    jaccard = rowwise_jaccard(reference, rows, other, rows, TAUS)
    return [
        {"tau": tau, "mean_jaccard": float(np.nanmean(jaccard[i])), "min_jaccard": float(np.nanmin(jaccard[i])),
         "flipped_fraction": float(np.mean((reference > tau) != (other > tau))),
         "mean_experts_reference": float((reference > tau).sum(axis=1).mean()),
         "mean_experts": float((other > tau).sum(axis=1).mean())}
        for i, tau in enumerate(TAUS)
    ]


def model_report(name: str, source: str, pool: pd.DataFrame, fold: dict, concepts: list[str], args) -> dict:
    """Extraction in each dtype; agreement of each with float32, and of float32 stored as float16."""
    scores, runs = {}, []
    for dtype in DTYPES:
        model, tokenizer = load_model(source, "final", dtype=dtype, device="cpu")
        start = time.perf_counter()
        try:
            result = extract_scores(model, tokenizer, select_modules(model), pool, fold, concepts,
                                    batch_size=args.batch_size, device="cpu", progress=False)
        except (RuntimeError, NotImplementedError) as err:  # an op without a CPU kernel in this dtype
            runs.append({"dtype": dtype, "error": f"{type(err).__name__}: {err}"})
            continue
        scores[dtype] = np.asarray(result["ap"])
        nonfinite = 1 - np.isfinite(scores[dtype]).mean()
        runs.append({"dtype": dtype, "seconds": time.perf_counter() - start, "nonfinite_fraction": float(nonfinite)})
        log.info("%s %s: %.1f s", name, dtype, runs[-1]["seconds"])
    reference = scores["float32"]
    return {
        "model": name, "units": int(reference.shape[1]), "runs": runs,
        "forward": {dtype: compare(reference, values) for dtype, values in scores.items() if dtype != "float32"},
        "storage_float16": compare(reference, reference.astype(np.float16).astype(np.float32)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concepts", type=int, default=40)
    parser.add_argument("--positive", type=int, default=30)
    parser.add_argument("--negative", type=int, default=75)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(0)
    pool, concepts = builtin_pool(args.concepts)
    fold = make_folds(pool.set_index("sentence_id")["concept"], sorted(pool.concept.unique()), args.positive,
                      args.negative, 1, seed=0)[0]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        sources = {"all-minilm-l6-v2": "all-minilm-l6-v2",
                   "tiny-gpt-neox": str(build_tiny_model("gpt_neox", Path(folder) / "tiny"))}
        models = [model_report(name, source, pool, fold, concepts, args) for name, source in sources.items()]
    write_json({"concepts": len(concepts), "positives": args.positive, "negatives": args.negative, "taus": TAUS,
                "device": "cpu", "torch": torch.__version__, "load_average": load, "models": models}, args.out)


if __name__ == "__main__":
    main()
