"""Expert extraction per concept on Pythia-shaped models (random weights, real shapes and FLOPs).

Runs the workflow's extraction path (``expertalign.folds.make_folds`` ->
``expertalign.extraction.extract_scores`` -> ``save_scores``) on synthetic sentences of 20-40
tokens: P positives per concept, N negatives, for a batch of concepts, and reports per-concept
seconds split into forward passes, AP and I/O, and peak GPU memory on CUDA. bf16 weights on
GPU, float32 on CPU; on CPU only the 70m shape runs. Also measures forward throughput
(sentences/s through ``record_responses``) of all-MiniLM-L6-v2 and the 70m shape.

    python benchmarks/extraction.py --out benchmarks/results/extraction_cpu.json          # CPU
    python benchmarks/extraction.py --shapes 70m 1b 12b --concepts 20 --out ...           # GPU
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoModel, GPTNeoXConfig

from expertalign.extraction import StageTimer, extract_scores
from expertalign.scores import save_scores
from expertalign.folds import make_folds
from expertalign.models import load_model, resolve_device, select_modules, unit_table
from expertalign.responses import record_responses
from expertalign.workflow import write_json

log = logging.getLogger("benchmarks.extraction")

# hidden, layers, heads, intermediate: the published Pythia configs (vocab 50,304, rotary 25%).
PYTHIA_SHAPES = {"70m": (512, 6, 8, 2048), "1b": (2048, 16, 8, 8192), "12b": (5120, 36, 40, 20480)}


def pythia_model(shape: str, device: torch.device, dtype: torch.dtype):
    """A GPT-NeoX base model of the Pythia ``shape`` with random weights, built on ``device``."""
    hidden, layers, heads, intermediate = PYTHIA_SHAPES[shape]
    config = GPTNeoXConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                           intermediate_size=intermediate, vocab_size=50_304, rotary_pct=0.25,
                           max_position_embeddings=2048, use_parallel_residual=True)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModel.from_config(config, dtype=dtype)
    return model.eval()


def synthetic_sentences(tokenizer, n: int, seed: int) -> list[str]:
    """``n`` sentences of 18-38 random whole words of the tokenizer's vocabulary (20-40 tokens with CLS/SEP)."""
    words = sorted(t for t in tokenizer.get_vocab() if t.isalpha() and t.isascii() and len(t) >= 3)
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(18, 38))) + "." for _ in range(n)]


def synthetic_pool(tokenizer, n_concepts: int, per_concept: int, seed: int) -> pd.DataFrame:
    """A sentence pool table (contract columns) with ``per_concept`` sentences for each concept.

    Only the fold's negative pool and the scored concepts' positives ever reach the model.
    """
    concepts = [f"concept{index:03d}-n" for index in range(n_concepts) for _ in range(per_concept)]
    sentences = synthetic_sentences(tokenizer, len(concepts), seed)
    return pd.DataFrame({"sentence_id": range(len(concepts)), "concept": concepts,
                         "prompt": "fact", "sentence": sentences})


def throughput(model, tokenizer, sentences: list[str], batch_size: int) -> float:
    """Sentences per second through ``record_responses`` (max pooling over all units)."""
    modules = select_modules(model)
    record_responses(model, tokenizer, sentences[:batch_size], modules, batch_size=batch_size, progress=False)
    start = time.perf_counter()
    record_responses(model, tokenizer, sentences, modules, batch_size=batch_size, progress=False)
    return len(sentences) / (time.perf_counter() - start)


def extraction_run(shape: str, device: torch.device, tokenizer, args) -> dict:
    """One extraction job on the ``shape`` model: per-concept seconds by stage, memory."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    model = pythia_model(shape, device, dtype)
    build_s = time.perf_counter() - start
    modules = select_modules(model)
    n_units = len(unit_table(model, modules))
    pool = synthetic_pool(tokenizer, max(args.pool_concepts, args.concepts), args.positive, args.seed)
    fold = make_folds(pool.set_index("sentence_id")["concept"], sorted(pool.concept.unique()), args.positive,
                      args.negative, 1, args.seed, negative_pool_size=args.negative_pool)[0]
    concepts = sorted(pool.concept.unique())[: args.concepts]
    timer = StageTimer()
    result = extract_scores(model, tokenizer, modules, pool, fold, concepts, batch_size=args.batch_size,
                            pooling="max", max_length=128, device=device, timer=timer, progress=False)
    with tempfile.TemporaryDirectory() as folder, timer.stage("save"):
        save_scores(Path(folder) / "fold0.npz", result)
    seconds = dict(timer.seconds)
    n = len(concepts)
    forward = (seconds["forward_negatives"] + seconds["forward_positives"]) / n
    report = {
        "shape": shape, "device": str(device), "dtype": str(dtype).removeprefix("torch."), "units": n_units,
        "concepts": n, "pool_concepts": int(pool.concept.nunique()), "positives": args.positive,
        "negatives": args.negative,
        "negative_pool": len(fold["negative_pool"]), "batch_size": args.batch_size,
        "model_build_s": build_s, "stage_s": seconds,
        "per_concept_s": {"forward": forward, "ap": seconds["ap"] / n, "io": seconds["save"] / n,
                          "total": forward + (seconds["ap"] + seconds["save"]) / n},
        "per_concept_streaming_s": (seconds["forward_positives"] + seconds["ap"] + seconds["save"]) / n,
        "mean_tokens": float(pd.Series([len(tokenizer(s)["input_ids"]) for s in pool.sentence[:200]]).mean()),
    }
    if device.type == "cuda":
        report["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        report["gpu"] = torch.cuda.get_device_name(device)
    del model
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=None, choices=sorted(PYTHIA_SHAPES),
                        help="model shapes (default: 70m on CPU, all three on CUDA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--positive", type=int, default=400)
    parser.add_argument("--negative", type=int, default=1000)
    parser.add_argument("--negative-pool", type=int, default=None,
                        help="M, sentences of the fold's negative pool (default 10 x N, as folds.negative_pool_size)")
    parser.add_argument("--concepts", type=int, default=4, help="concepts scored")
    parser.add_argument("--pool-concepts", type=int, default=100,
                        help="concepts in the sentence pool: with many, a concept's own sentences are rare among "
                             "the negatives, as in the paper (800 concepts)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--throughput-sentences", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/extraction_cpu.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    device = resolve_device(args.device)
    shapes = args.shapes or (sorted(PYTHIA_SHAPES) if device.type == "cuda" else ["70m"])
    if device.type == "cpu" and shapes != ["70m"]:
        parser.error("on CPU only the 70m shape runs")
    minilm, tokenizer = load_model("all-minilm-l6-v2", device=device)
    sentences = synthetic_sentences(tokenizer, args.throughput_sentences, args.seed + 1)
    result = {
        "benchmark": "extraction", "device": str(device), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_before": os.getloadavg()[0],
        "throughput_sentences_per_s": {"all-minilm-l6-v2": throughput(minilm, tokenizer, sentences, args.batch_size)},
        "runs": [],
    }
    del minilm
    for shape in shapes:
        log.info("extraction on the %s shape", shape)
        run = extraction_run(shape, device, tokenizer, args)
        log.info("%s: %s", shape, run["per_concept_s"])
        result["runs"].append(run)
    if "70m" in shapes:
        model = pythia_model("70m", device, torch.bfloat16 if device.type == "cuda" else torch.float32)
        result["throughput_sentences_per_s"]["pythia-70m-shape"] = throughput(model, tokenizer, sentences,
                                                                              args.batch_size)
    write_json(result, args.out)
    log.info("-> %s", args.out)


if __name__ == "__main__":
    main()
