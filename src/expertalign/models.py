"""Load language models by short name, local directory or hub id, and enumerate their units.

A *unit* is one output channel of a selected ``torch.nn.Linear`` (or GPT-2 ``Conv1D``) module.
Units are numbered 0..n_units-1 in module forward order, then channel order; that number is the
column index of every response and score matrix (see :func:`unit_table`).
"""

from __future__ import annotations

import logging
import re

import pandas as pd
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.pytorch_utils import Conv1D

from expertalign.sources import ENCODER_MODEL_TYPES, ModelLoadError, _locate

log = logging.getLogger(__name__)


DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}

FAMILY_PATTERNS: dict[str, str] = {
    "gpt_neox": r"(?:^|\.)layers\.\d+\.(?:attention\.(?:query_key_value|dense)|mlp\.(?:dense_h_to_4h|dense_4h_to_h))$",
    "gpt2": r"(?:^|\.)h\.\d+\.(?:attn\.(?:c_attn|c_proj)|mlp\.(?:c_fc|c_proj))$",
    "llama": (
        r"(?:^|\.)layers\.\d+\.(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)"
        r"|mlp\.(?:gate_proj|up_proj|down_proj))$"
    ),
    # The layer's own output.dense is anchored right after the layer index, so the attention
    # block's attention.output.dense is matched once, by its own alternative.
    "bert": (
        r"(?:^|\.)layer\.\d+\.(?:attention\.self\.(?:query|key|value)|attention\.output\.dense"
        r"|intermediate\.dense|output\.dense)$"
    ),
}

MODEL_TYPE_FAMILIES: dict[str, str] = {
    "gpt_neox": "gpt_neox",
    "gpt2": "gpt2",
    "llama": "llama",
    "olmo": "llama",
    "olmo2": "llama",
    "mistral": "llama",
    "qwen2": "llama",
    "bert": "bert",
}

# Families with a causal LM head (next-token logits); bert is encoder-only.
# Containers whose name is stripped from a module's sub-layer name (longest first).
_BLOCK_PREFIXES = ("attention.self.", "attention.", "self_attn.", "attn.", "mlp.")
_ATTENTION_PARTS = frozenset({"attention", "attn", "self_attn"})


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for ``device``: cpu, cuda, cuda:N, or auto (cuda when available, else cpu)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def _resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _set_pad_token(tokenizer: PreTrainedTokenizerBase, source: str) -> None:
    """Give a tokenizer without a pad token its eos (else unk) token as padding."""
    if tokenizer.pad_token is not None:
        return
    fallback = tokenizer.eos_token or tokenizer.unk_token
    if fallback is None:
        raise ModelLoadError(f"tokenizer of {source!r} has no pad, eos or unk token to pad with")
    tokenizer.pad_token = fallback


def load_model(
    source: str,
    checkpoint: str = "final",
    dtype: str = "float32",
    device: str | torch.device = "auto",
    init_seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load the base model (no LM head) and tokenizer of ``source`` at ``checkpoint``, in eval mode.

    ``source``: a key of :data:`PACKAGED_MODELS`, a local directory written by ``save_pretrained``,
    or a Hugging Face hub id. ``checkpoint``: ``final`` (the source as is), ``init`` (the same
    architecture with weights drawn under ``torch.manual_seed(init_seed)``), or a checkpoint name:
    the sub-folder ``<dir>/<checkpoint>`` of a local directory, ``revision=checkpoint`` on the hub
    (Pythia: step1 ... step143000). Raises :class:`ModelLoadError` naming source and checkpoint
    when either cannot be found.
    """
    torch_dtype = _resolve_dtype(dtype)
    target = resolve_device(device)
    location, revision = _locate(source, checkpoint)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, revision=revision)
        if checkpoint == "init":
            model = _init_model(location, revision, torch_dtype, init_seed)
        else:
            model = AutoModel.from_pretrained(location, revision=revision, dtype=torch_dtype)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot load model {source!r} at checkpoint {checkpoint!r}: {err}") from err
    _set_pad_token(tokenizer, source)
    model.to(target).eval()
    log.info("loaded %s (%s) at %s: %s on %s", source, location, checkpoint, dtype, target)
    return model, tokenizer


def load_architecture(source: str, checkpoint: str = "init") -> PreTrainedModel:
    """The base model of ``source`` at ``checkpoint`` on the meta device: module shapes, no weights.

    Reads only the config (same sources and errors as :func:`load_model`), so listing the units
    of any model size takes megabytes, not the model's weights.
    """
    location, revision = _locate(source, checkpoint)
    try:
        config = AutoConfig.from_pretrained(location, revision=revision)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot read the config of model {source!r} at checkpoint {checkpoint!r}: {err}") from err
    with torch.device("meta"):
        return AutoModel.from_config(config)


def _init_model(location: str, revision: str | None, dtype: torch.dtype, seed: int) -> PreTrainedModel:
    """The architecture of ``location`` with fresh weights drawn under ``torch.manual_seed(seed)``."""
    config = AutoConfig.from_pretrained(location, revision=revision)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(config)
    return model.to(dtype)


class NotACausalLM(ModelLoadError):
    """A model without a causal LM head (an encoder such as BERT): it cannot predict next tokens."""


def load_causal_lm(
    source: str,
    checkpoint: str = "final",
    dtype: str = "float32",
    device: str | torch.device = "auto",
    init_seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``source`` at ``checkpoint`` WITH its causal LM head (next-token logits), in eval mode.

    Same sources and checkpoints as :func:`load_model`; ``lm.base_model`` is the model that
    :func:`load_model` returns, so unit module names and ``init`` weights (drawn under
    ``init_seed``) match extraction's; the ``init`` LM head is drawn under the same seed.
    Raises :class:`NotACausalLM` for an encoder, and :class:`ModelLoadError` when the weights
    lack the LM head (e.g. a folder saved from AutoModel) instead of silently drawing a random one.
    """
    torch_dtype = _resolve_dtype(dtype)
    target = resolve_device(device)
    location, revision = _locate(source, checkpoint)
    try:
        config = AutoConfig.from_pretrained(location, revision=revision)
        if config.model_type in ENCODER_MODEL_TYPES:
            raise NotACausalLM(f"model {source!r} is an encoder ({config.model_type}): it has no causal LM head")
        tokenizer = AutoTokenizer.from_pretrained(location, revision=revision)
        if checkpoint == "init":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(init_seed)
                lm = AutoModelForCausalLM.from_config(config)
            lm.base_model.load_state_dict(_init_model(location, revision, torch.float32, init_seed).state_dict())
            lm = lm.to(torch_dtype)
        else:
            lm, info = AutoModelForCausalLM.from_pretrained(
                location, revision=revision, dtype=torch_dtype, output_loading_info=True
            )
            if info["missing_keys"]:
                raise ModelLoadError(
                    f"model {source!r} at checkpoint {checkpoint!r} lacks LM head weights "
                    f"{sorted(info['missing_keys'])[:4]} (saved without its head?)"
                )
    except ModelLoadError:
        raise
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot load causal LM {source!r} at checkpoint {checkpoint!r}: {err}") from err
    _set_pad_token(tokenizer, source)
    lm.to(target).eval()
    log.info("loaded causal LM %s (%s) at %s: %s on %s", source, location, checkpoint, dtype, target)
    return lm, tokenizer


def detect_family(model: PreTrainedModel) -> str:
    """The unit-pattern family of ``model`` (a key of :data:`FAMILY_PATTERNS`) from config.model_type."""
    model_type = model.config.model_type
    if model_type not in MODEL_TYPE_FAMILIES:
        raise ValueError(
            f"no built-in unit pattern for model_type {model_type!r} (known: {sorted(MODEL_TYPE_FAMILIES)}); "
            "give a regular expression over module names instead"
        )
    return MODEL_TYPE_FAMILIES[model_type]


def is_encoder(model: PreTrainedModel) -> bool:
    """Whether ``model`` is a bidirectional encoder (BERT-like) rather than a causal LM."""
    return model.config.model_type in ENCODER_MODEL_TYPES


def _n_channels(module: torch.nn.Module) -> int:
    return module.nf if isinstance(module, Conv1D) else module.out_features


def select_modules(model: PreTrainedModel, family: str = "auto", pattern: str | None = None) -> list[str]:
    """Names of the Linear/Conv1D modules whose output channels are units, in forward order.

    ``pattern`` (a regular expression searched in each full module name) overrides the built-in
    pattern of ``family`` (``auto``: from the model's config). Raises ValueError when nothing matches.
    """
    if pattern is None:
        resolved = detect_family(model) if family == "auto" else family
        if resolved not in FAMILY_PATTERNS:
            raise ValueError(f"unknown model family {family!r}; known: auto, {', '.join(FAMILY_PATTERNS)}")
        pattern = FAMILY_PATTERNS[resolved]
    regex = re.compile(pattern)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, (torch.nn.Linear, Conv1D)) and regex.search(name)
    ]
    if not names:
        raise ValueError(f"no Linear or Conv1D module of {type(model).__name__} matches the pattern {pattern!r}")
    return names


def _describe_module(name: str) -> tuple[int, str, str]:
    """(layer index, block attention|mlp, sub-layer short name) of a module inside a layer."""
    match = re.search(r"(?:^|\.)(\d+)\.(.+)$", name)
    if match is None:
        raise ValueError(f"module {name!r} has no layer index; units must come from modules inside layers")
    layer, relative = int(match.group(1)), match.group(2)
    block = "attention" if _ATTENTION_PARTS & set(relative.split(".")[:-1]) else "mlp"
    sublayer = next((relative[len(p):] for p in _BLOCK_PREFIXES if relative.startswith(p)), relative)
    return layer, block, sublayer


def unit_table(model: PreTrainedModel, module_names: list[str]) -> pd.DataFrame:
    """One row per unit: unit, module, layer, block (attention|mlp), sublayer, channel.

    ``unit`` runs 0..n_units-1 over ``module_names`` in the given order, channels in order; it is
    the column index of the response and score matrices.
    """
    modules = dict(model.named_modules())
    frames = []
    for name in module_names:
        if name not in modules:
            raise ValueError(f"model has no module named {name!r}")
        layer, block, sublayer = _describe_module(name)
        n = _n_channels(modules[name])
        frames.append(
            pd.DataFrame(
                {"module": name, "layer": layer, "block": block, "sublayer": sublayer, "channel": range(n)}
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "unit", range(len(table)))
    return table.astype({"unit": "int64", "layer": "int64", "channel": "int64"})


def module_widths(model: PreTrainedModel, module_names: list[str]) -> list[int]:
    """Output channels of each named module, in the given order."""
    modules = dict(model.named_modules())
    missing = [name for name in module_names if name not in modules]
    if missing:
        raise ValueError(f"model has no module named {missing[0]!r}")
    return [_n_channels(modules[name]) for name in module_names]
