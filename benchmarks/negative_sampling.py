"""Alignment spread over folds under two negative-sampling schemes, on the embedded default.

The embedded default (config.yaml: the built-in concepts and sentences, P, N, the first model at
its final checkpoint) scored in ``--folds`` folds under each scheme, then Spearman of expert
Jaccard at tau = 0.5 against MEN (config.yaml's split) per fold:
- ``shared_first_n`` (the fold design before issue 14): one permutation of every sentence per
  fold; each concept's negatives are its first N ids not its own, so concepts share almost the
  same N negatives;
- ``per_concept`` (today's, ``expertalign.folds``): each concept draws its own N at random from
  a fold pool of M sentences (config's folds.negative_pool_size; default 10 N).
Same positives in both (the fold's). Every sentence runs through the model once
(``record_responses``) and each fold's scores come from ``extract_scores`` on those responses.

    EXPERTALIGN_MEN_DIR=../shared/data/MEN python benchmarks/negative_sampling.py
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
import yaml

from expertalign.concepts import load_men
from expertalign.extraction import ResponseCache, extract_scores
from expertalign.folds import draw_fold
from expertalign.generation import BuiltinBackend, generate_pool
from expertalign.models import load_model, select_modules
from expertalign.responses import record_responses
from expertalign.similarity import expert_jaccard, pair_similarities
from expertalign.stats import spearman
from expertalign.generation import pool_table
from expertalign.workflow import write_json

log = logging.getLogger("benchmarks.negative_sampling")
REPO = Path(__file__).resolve().parents[1]
SCHEMES = ("shared_first_n", "per_concept")


def shared_first_n(fold: dict, owners: np.ndarray) -> dict:
    """``fold`` with the pre-issue-14 negatives: per concept the first N ids of one permutation
    of every sentence (drawn from PCG64(seed + fold)) that are not its own."""
    rng = np.random.Generator(np.random.PCG64(fold["seed"] + fold["fold"]))
    order = rng.permutation(len(owners))
    negatives = {concept: sorted(order[owners[order] != concept][: fold["negative_size"]].tolist())
                 for concept in fold["positives"]}
    pool = sorted(set().union(*negatives.values()))
    return {**fold, "negatives": negatives, "negative_pool": pool, "negative_pool_size": len(pool)}


def alignment(result: dict, pairs, tau: float) -> float:
    """Spearman of expert Jaccard (AP > tau) against the pairs' human scores."""
    jaccard, _ = expert_jaccard(result["ap"], tau)
    similarities = pair_similarities(jaccard, result["concepts"], pairs)  # empty unions are 0 either way
    return spearman(similarities["similarity"], similarities["score"])["spearman"]


def summary(values: list[float]) -> dict:
    return {"per_fold": values, "mean": statistics.mean(values), "sd": statistics.stdev(values),
            "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--responses", type=Path, default=None,
                        help="cache of every sentence's responses (.pt): read if present, else written")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/negative_sampling.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = yaml.safe_load(args.config.read_text())
    folds_config, sentences = config["folds"], config["sentences"]
    model_name, spec = next(iter(config["models"].items()))
    concepts = (REPO / config["concepts"]["list"]).read_text().split()
    backend = BuiltinBackend(REPO / sentences["builtin"]["path"])
    pool, _ = pool_table({c: generate_pool(backend, c, None, sentences["pool_size"]) for c in concepts}, "builtin")
    men_dir = os.environ.get("EXPERTALIGN_MEN_DIR") or config["concepts"]["men"]["dir"]
    pairs = load_men(men_dir, config["concepts"]["men"]["split"])
    model, tokenizer = load_model(spec["source"], "final", spec["dtype"], "cpu")
    modules = select_modules(model)
    start = time.perf_counter()
    if args.responses is not None and args.responses.is_file():
        responses = torch.load(args.responses)
    else:
        responses = record_responses(model, tokenizer, list(pool["sentence"]), modules,
                                     batch_size=spec["batch_size"], progress=False)
        if args.responses is not None:
            torch.save(responses, args.responses)
    forward_s = time.perf_counter() - start
    cache = ResponseCache(pool["sentence_id"].tolist(), responses)
    owners = pool["concept"].to_numpy()
    values = {scheme: [] for scheme in SCHEMES}
    for k in range(args.folds):
        fold = draw_fold(pool.set_index("sentence_id")["concept"], concepts, folds_config["positive_size"],
                         folds_config["negative_size"], k, folds_config["seed"],
                         negative_pool_size=folds_config.get("negative_pool_size"))
        for scheme, drawn in zip(SCHEMES, (shared_first_n(fold, owners), fold)):
            result = extract_scores(model, tokenizer, modules, pool, drawn, concepts, device="cpu", progress=False,
                                    cache=cache)
            values[scheme].append(alignment(result, pairs, args.tau))
            log.info("fold %d, %s: %.4f", k, scheme, values[scheme][-1])
    report = {
        "benchmark": "negative_sampling", "model": model_name, "checkpoint": "final",
        "concepts": len(concepts), "sentences": len(pool), "positive_size": folds_config["positive_size"],
        "negative_size": folds_config["negative_size"], "negative_pool_size": len(fold["negative_pool"]),
        "tau": args.tau, "men_split": config["concepts"]["men"]["split"], "folds": args.folds,
        "seed": folds_config["seed"], "forward_s": forward_s,
        "schemes": {scheme: summary(v) for scheme, v in values.items()},
        "sd_ratio": statistics.stdev(values["per_concept"]) / statistics.stdev(values["shared_first_n"]),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
    }
    write_json(report, args.out)
    for scheme, stats_ in report["schemes"].items():
        log.info("%s: mean %.3f, sd %.3f, %.3f-%.3f", scheme, *(stats_[k] for k in ("mean", "sd", "min", "max")))
    log.info("sd ratio per_concept / shared_first_n: %.2f -> %s", report["sd_ratio"], args.out)


if __name__ == "__main__":
    main()
