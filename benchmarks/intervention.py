"""The causal check per concept on a Pythia-70m-shaped causal LM (random weights, real shapes and FLOPs).

Times ``expertalign.intervention.concept_intervention`` with the config's defaults (k in 0, 10, 50,
100, 500; 3 control seeds; 6 prompts; P positives for the typical responses), split into the
typical responses (one forward pass over the positives), the teacher-forced log-probabilities and
the sampled continuations (n_samples x max_new_tokens per prompt and condition). The tokenizer is
the tests' tiny word-level one (no download); the LM head has Pythia's 50,304 outputs.

    python benchmarks/intervention.py --out benchmarks/results/intervention_cpu.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, GPTNeoXConfig

from expertalign import intervention as iv
from expertalign.models import resolve_device, select_modules
from expertalign.workflow import write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_models import build_tokenizer  # noqa: E402

DEFAULTS = dict(ks=[0, 10, 50, 100, 500], control_seeds=3, n_samples=10, max_new_tokens=20, seed=0,
                prompts=["Once upon a time", "Let me tell you about", "Today I saw", "This is a story about",
                         "She thought about", "The word I am thinking of is"])


def pythia_70m_lm(device: torch.device, dtype: torch.dtype):
    """GPTNeoXForCausalLM with Pythia-70m's shape and random weights."""
    config = GPTNeoXConfig(hidden_size=512, num_hidden_layers=6, num_attention_heads=8, intermediate_size=2048,
                           vocab_size=50_304, rotary_pct=0.25, max_position_embeddings=2048,
                           use_parallel_residual=True, bos_token_id=1, eos_token_id=1)
    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--concepts", type=int, default=2)
    parser.add_argument("--positives", type=int, default=400)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    device = resolve_device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = build_tokenizer("gpt_neox")
    tokenizer.pad_token = tokenizer.eos_token  # as load_model does for Pythia
    lm = pythia_70m_lm(device, dtype)
    modules = select_modules(lm.base_model, "gpt_neox")
    words = ["dog", "cat", "horse", "car", "tree", "river"]
    rng = np.random.default_rng(0)
    positives = [" ".join(rng.choice(words + ["the", "a", "near", "ran", "park"], size=25)) + "."
                 for _ in range(args.positives)]
    scores = rng.random(sum(m.out_features for n, m in lm.base_model.named_modules() if n in modules))
    timed = {name: getattr(iv, name) for name in ("typical_responses", "continuation_logprobs", "generated_shares")}
    stages = dict.fromkeys(timed, 0.0)

    def timer(name, fn):
        def wrapped(*a, **k):
            start = time.perf_counter()
            out = fn(*a, **k)
            stages[name] += time.perf_counter() - start
            return out
        return wrapped

    for name, fn in timed.items():
        setattr(iv, name, timer(name, fn))
    iv.inflections("dog", "n")  # WordNet loads once per process, outside the timing
    start = time.perf_counter()
    for concept in [f"{w}-n" for w in words[: args.concepts]]:
        iv.concept_intervention(lm, tokenizer, modules, concept, scores, positives, batch_size=64, **DEFAULTS)
    total = time.perf_counter() - start
    write_json({
        "benchmark": "intervention", "device": str(device), "dtype": str(dtype).removeprefix("torch."),
        "shape": "pythia-70m", "units": int(len(scores)), "concepts": args.concepts, "positives": args.positives,
        "settings": DEFAULTS, "cpu_count": os.cpu_count(), "load_average_before": os.getloadavg()[0],
        "per_concept_s": total / args.concepts, "stage_per_concept_s": {k: v / args.concepts for k, v in stages.items()},
    }, args.out)


if __name__ == "__main__":
    main()
