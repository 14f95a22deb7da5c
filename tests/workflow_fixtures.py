"""A tiny end-to-end configuration: two tiny local models with two checkpoints each, 14 concepts
with sentences generated here, a two-domain hierarchy, MEN from the shared folder."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
#: The tests' MEN folder: $EXPERTALIGN_MEN_DIR, else ../shared/data/MEN beside the clone.
MEN_DIR = Path(os.environ.get("EXPERTALIGN_MEN_DIR") or REPO.parent / "shared" / "data" / "MEN")
CONCEPTS = {
    "animal-n": "animal", "cat-n": "cat", "dog-n": "dog", "horse-n": "horse", "pet-n": "pet",
    "canine-j": "canine", "puppy-n": "puppy", "paw-n": "paw", "sailing-n": "sailing", "shore-n": "shore",
    "vehicle-n": "vehicle", "bus-n": "bus", "boat-n": "boat", "train-n": "train",
}
HIERARCHY = [
    ("animal", "super", "animal-n"), ("animal", "sub", "cat-n"), ("animal", "sub", "dog-n"),
    ("animal", "sub", "horse-n"), ("vehicle", "super", "vehicle-n"), ("vehicle", "sub", "bus-n"),
    ("vehicle", "sub", "boat-n"), ("vehicle", "sub", "train-n"),
]
FILLERS = ["park", "river", "morning", "city", "garden", "winter", "road", "house", "market", "summer"]
VERBS = ["waited", "rested", "moved", "appeared", "stayed", "played", "slept", "ran"]
POOL_SIZE = 12
#: A user similarity dataset over the tiny concepts (the second dataset of the tiny config)
USER_PAIRS = [("cat", "dog", 8), ("dog", "puppy", 9), ("cat", "bus", 1), ("boat", "train", 6), ("bus", "train", 8),
              ("horse", "sailing", 2), ("pet", "cat", 8), ("shore", "boat", 5), ("paw", "vehicle", 1)]


def write_sentences(path: Path, seed: int = 0) -> None:
    """A JSONL of POOL_SIZE template sentences per concept, half 'fact', half 'story'."""
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for concept, word in CONCEPTS.items():
            for i in range(POOL_SIZE):
                sentence = (
                    f"The {word} {rng.choice(VERBS)} near the {rng.choice(FILLERS)} "
                    f"in the {rng.choice(FILLERS)} number {i}."
                )
                prompt = "fact" if i % 2 == 0 else "story"
                fh.write(json.dumps({"concept": concept, "sentence": sentence, "prompt": prompt}) + "\n")


def tiny_config(root: Path, men_dir: Path) -> Path:
    """Write models, data and a config under ``root``; return the config path."""
    from tiny_models import build_tiny_checkpoints  # torch + transformers: only when models are built

    root.mkdir(parents=True, exist_ok=True)
    models = {}
    for family in ("gpt_neox", "bert"):
        folder = root / "models" / family
        if not folder.exists():
            build_tiny_checkpoints(family, folder, names=("step1", "step2"))
        models[f"tiny-{family.replace('_', '')}"] = {
            "source": str(folder),
            "family": family,
            "checkpoints": ["step1", "step2"],
            "batch_size": 16,
        }
    (root / "concepts.txt").write_text("\n".join(CONCEPTS) + "\n")
    (root / "hierarchy.tsv").write_text(
        "domain\trole\tconcept\n" + "".join("\t".join(row) + "\n" for row in HIERARCHY)
    )
    write_sentences(root / "sentences.jsonl")
    (root / "mine.tsv").write_text("word1\tword2\tscore\tpos\n" + "".join(
        f"{a}\t{b}\t{score}\tn\n" for a, b, score in USER_PAIRS))
    config = {
        "models": models,
        "device": "cpu",
        "concepts": {
            "list": str(root / "concepts.txt"),
            "hierarchy": str(root / "hierarchy.tsv"),
            "men": {"dir": str(men_dir), "split": "full"},
        },
        "datasets": {"names": ["men", "mine"], "user": {"mine": {"path": str(root / "mine.tsv"), "ceiling": 0.9}}},
        "sentences": {"backend": "file", "pool_size": POOL_SIZE, "file": {"path": str(root / "sentences.jsonl")}},
        "folds": {"positive_size": 6, "negative_size": 15, "n_folds": 2, "seed": 0},
        "taus": [0.5, 0.7],
        "extraction": {"shard_size": 8},
        "statistics": {"bootstrap_resamples": 50, "permutations": 50, "baseline_iterations": 10, "seed": 0},
        "pilot": {
            "enabled": True,
            "model": "tiny-gptneox",
            "checkpoint": "step2",
            "n_pairs": 4,
            "positive_sizes": [4, 6],
            "negative_sizes": [10, 15],
            "n_folds": 2,
        },
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_snakemake(workdir: Path, config: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` with ``config``; output captured.

    The subprocess reads MEN from the tests' folder (:data:`MEN_DIR`) even when the caller's
    environment does not name it, so a config that would download MEN (config/paper.yaml) runs offline.
    """
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(config), *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EXPERTALIGN_MEN_DIR": str(MEN_DIR)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
