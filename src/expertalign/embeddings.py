"""Word embeddings from a model's final hidden layer: the paper's embedding baseline (Sec. 5).

Each word runs through the model alone. Causal LMs see only the word's tokens (no special
tokens added); encoders (BERT) see [CLS] word [SEP], and CLS/SEP are left out of the pooling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from expertalign.models import is_encoder
from expertalign.responses import input_device, last_token_index, model_inputs

EMBEDDING_POOLINGS = ("mean", "last")


def _pool_word_tokens(hidden: torch.Tensor, word_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[batch, hidden] float32 from final hidden states [batch, seq, hidden] over the word's tokens."""
    if pooling == "mean":
        total = hidden.masked_fill(~word_mask.unsqueeze(-1), 0).sum(dim=1, dtype=torch.float32)
        return total / word_mask.sum(dim=1, keepdim=True)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last_token_index(word_mask)].float()


def word_embeddings(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    words: Sequence[str],
    pooling: str = "mean",
    batch_size: int = 64,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """Embeddings [n_words, hidden] float32: the final hidden layer pooled over each word's tokens.

    ``pooling``: ``mean`` over the word's tokens, or ``last`` (its last token). Padding and
    special tokens never enter the pooling; results do not depend on the batch.
    """
    if pooling not in EMBEDDING_POOLINGS:
        raise ValueError(f"pooling must be one of {EMBEDDING_POOLINGS}, got {pooling!r}")
    for index, word in enumerate(words):
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"word {index} is empty or not a string: {word!r}")
    device = input_device(model) if device is None else torch.device(device)
    encoder = is_encoder(model)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(words), batch_size):
            encoding = tokenizer(list(words[start : start + batch_size]), padding=True, return_tensors="pt",
                                 add_special_tokens=encoder, return_special_tokens_mask=True)
            special = encoding.pop("special_tokens_mask").bool()
            word_mask = encoding["attention_mask"].bool() & ~special
            empty = (~word_mask.any(dim=1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"word {start + empty[0]} ({words[start + empty[0]]!r}) has no tokens")
            hidden = model(**model_inputs(model, encoding, device)).last_hidden_state
            chunks.append(_pool_word_tokens(hidden, word_mask.to(hidden.device), pooling).cpu())
    hidden_size = model.config.hidden_size
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, hidden_size), dtype=np.float32)
