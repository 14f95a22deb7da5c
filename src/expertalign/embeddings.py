"""Embedding baselines from a model's final hidden layer (the paper's Sec. 5 and its later version).

* ``word``: each word alone through the model. Causal LMs see only the word's tokens (no special
  tokens added); encoders (BERT) see [CLS] word [SEP], and CLS/SEP are left out of the pooling.
* ``word_space``: the same with a leading space (" word"), the form a word takes in running text
  for byte-level BPE tokenizers (GPT-2, GPT-NeoX); computed only where the space changes the tokens.
* ``contextual``: the word's own tokens in the concept's sentences, averaged over its occurrences.
* ``sentence_pool``: the mean over the concept's sentences of each sentence's mean token state.

Token states are pooled by ``mean`` over a span's tokens or ``last`` (its last token); padding,
special tokens and tokens that cover only whitespace never enter a pooling, so results do not
depend on the batch or the padding side.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from expertalign.models import is_encoder
from expertalign.responses import batches_by_length, context_length, input_device, last_token_index, model_inputs
from expertalign.wordnet import WORDNET_POS, inflections

log = logging.getLogger(__name__)

EMBEDDING_POOLINGS = ("mean", "last")


def _check_pooling(pooling: str) -> None:
    if pooling not in EMBEDDING_POOLINGS:
        raise ValueError(f"pooling must be one of {EMBEDDING_POOLINGS}, got {pooling!r}")


def _pool_word_tokens(hidden: torch.Tensor, word_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[batch, hidden] float32 from final hidden states [batch, seq, hidden] over the word's tokens."""
    if pooling == "mean":
        total = hidden.masked_fill(~word_mask.unsqueeze(-1), 0).sum(dim=1, dtype=torch.float32)
        return total / word_mask.sum(dim=1, keepdim=True)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last_token_index(word_mask)].float()


def _visible_tokens(texts: Sequence[str], offsets: torch.Tensor) -> torch.Tensor:
    """[batch, seq] bool: tokens whose character span (offset_mapping [batch, seq, 2]) holds a non-space."""
    return torch.tensor(
        [[bool(text[start:end].strip()) for start, end in row] for text, row in zip(texts, offsets.tolist())],
        dtype=torch.bool,
    ).reshape(offsets.shape[:2])


def space_sensitive(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether " cat" and "cat" get different token ids (no special tokens): True for byte-level
    BPE (GPT-2, GPT-NeoX), False for WordPiece (BERT), which drops the space."""
    bare, spaced = tokenizer(["cat", " cat"], add_special_tokens=False)["input_ids"]
    return list(bare) != list(spaced)


def word_embeddings(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    words: Sequence[str],
    pooling: str = "mean",
    batch_size: int = 64,
    device: torch.device | str | None = None,
    leading_space: bool = False,
) -> np.ndarray:
    """Embeddings [n_words, hidden] float32: the final hidden layer pooled over each word's tokens.

    ``pooling``: ``mean`` over the word's tokens, or ``last`` (its last token). ``leading_space``:
    feed " word" instead of "word"; the space belongs to the word's first token for byte-level BPE,
    and a token holding only the space (some tokenizers emit one) is not pooled. Padding and
    special tokens never enter the pooling; results do not depend on the batch.
    """
    _check_pooling(pooling)
    for index, word in enumerate(words):
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"word {index} is empty or not a string: {word!r}")
    texts = [" " + word if leading_space else word for word in words]
    device = input_device(model) if device is None else torch.device(device)
    encoder = is_encoder(model)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            encoding = tokenizer(batch, padding=True, return_tensors="pt", add_special_tokens=encoder,
                                 return_special_tokens_mask=True, return_offsets_mapping=True)
            special = encoding.pop("special_tokens_mask").bool()
            visible = _visible_tokens(batch, encoding.pop("offset_mapping"))
            word_mask = encoding["attention_mask"].bool() & ~special & visible  # [batch, seq]
            empty = (~word_mask.any(dim=1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"word {start + empty[0]} ({words[start + empty[0]]!r}) has no tokens")
            hidden = model(**model_inputs(model, encoding, device)).last_hidden_state  # [batch, seq, hidden]
            chunks.append(_pool_word_tokens(hidden, word_mask.to(hidden.device), pooling).cpu())
    hidden_size = model.config.hidden_size
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, hidden_size), dtype=np.float32)


@functools.lru_cache(maxsize=4096)
def occurrence_pattern(word: str, pos: str | None = None) -> re.Pattern[str]:
    """Case-insensitive whole-word regex for ``word`` and its inflections (expertalign.wordnet.inflections
    for ``pos`` n, v or j; for pos None, those of all three). Possessive forms are left out, so in
    "dog's" only "dog" matches; an underscore of a multiword lemma matches spaces, "_" or "-"."""
    forms = set().union(*(inflections(word, p) for p in ([pos] if pos else WORDNET_POS)))
    alternatives = sorted((form for form in forms if "'" not in form), key=lambda f: (-len(f), f))
    escaped = [re.escape(form).replace("_", r"[\s_-]+") for form in alternatives]
    return re.compile(r"(?<!\w)(?:" + "|".join(escaped) + r")(?!\w)", re.IGNORECASE)


def sentence_embeddings(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    words: Sequence[str],
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
    pooling: str = "mean",
    pos: Sequence[str | None] | None = None,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contextual and sentence-pool embeddings of each concept from its own sentences, one forward pass.

    ``words[c]``: concept c's word; ``sentences[c]``: its sentences (at least one); ``pos[c]``: its
    POS (n, v, j; None: forms of all three), used to find inflected occurrences (occurrence_pattern).
    Returns

    * contextual [n_c, hidden] float32: per occurrence of the word in a sentence, the final hidden
      states of the tokens overlapping it (fast tokenizer's offset_mapping) pooled by ``pooling``;
      averaged over all occurrences in all of c's sentences. NaN row when the word never occurs
      (logged). Occurrences cut off by truncation to the model's context are not counted.
    * sentence_pool [n_c, hidden] float32: mean over c's sentences of each sentence's mean final
      hidden state over its non-special, non-padding tokens.
    * n_occurrences [n_c] int64: occurrences averaged into each contextual row.

    Causal LMs get no special tokens, encoders their usual [CLS] ... [SEP] (never pooled).
    """
    _check_pooling(pooling)
    if len(sentences) != len(words):
        raise ValueError(f"{len(words)} words but {len(sentences)} sentence lists")
    pos = [None] * len(words) if pos is None else list(pos)
    for index, group in enumerate(sentences):
        if isinstance(group, str) or len(group) == 0:
            raise ValueError(f"concept {index} ({words[index]!r}): expected a non-empty list of sentences")
    patterns = [occurrence_pattern(word.lower(), p) for word, p in zip(words, pos)]
    texts = [sentence for group in sentences for sentence in group]
    owner = np.repeat(np.arange(len(words)), [len(group) for group in sentences])  # concept of each text
    device = input_device(model) if device is None else torch.device(device)
    hidden_size = model.config.hidden_size
    options = dict(add_special_tokens=is_encoder(model), truncation=context_length(model) is not None,
                   max_length=context_length(model))
    lengths = [len(ids) for ids in tokenizer(texts, **options)["input_ids"]]
    context_sum = np.zeros((len(words), hidden_size))  # float64 sums
    pool_sum = np.zeros((len(words), hidden_size))
    n_occurrences = np.zeros(len(words), dtype=np.int64)
    with torch.inference_mode():
        for batch in batches_by_length(lengths, batch_size):
            encoding = tokenizer([texts[i] for i in batch], padding=True, return_tensors="pt",
                                 return_special_tokens_mask=True, return_offsets_mapping=True, **options)
            real = encoding["attention_mask"].bool() & ~encoding.pop("special_tokens_mask").bool()  # [b, seq]
            offsets = encoding.pop("offset_mapping")  # [b, seq, 2] character spans
            empty = (~real.any(dim=1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"sentence {batch[empty[0]]} ({texts[batch[empty[0]]]!r}) has no tokens")
            hidden = model(**model_inputs(model, encoding, device)).last_hidden_state  # [b, seq, hidden]
            means = _pool_word_tokens(hidden, real.to(hidden.device), "mean").cpu().double()  # [b, hidden]
            np.add.at(pool_sum, owner[batch], means.numpy())
            rows, masks = [], []
            for row, index in enumerate(batch):
                for match in patterns[owner[index]].finditer(texts[index]):
                    mask = real[row] & (offsets[row, :, 0] < match.end()) & (offsets[row, :, 1] > match.start())
                    if mask.any():
                        rows.append(row)
                        masks.append(mask)
            if rows:
                occurrence_mask = torch.stack(masks).to(hidden.device)  # [n_occ, seq]
                pooled = _pool_word_tokens(hidden[torch.tensor(rows, device=hidden.device)], occurrence_mask, pooling)
                concepts = owner[[batch[row] for row in rows]]
                np.add.at(context_sum, concepts, pooled.cpu().double().numpy())
                np.add.at(n_occurrences, concepts, 1)
    missing = [words[c] for c in np.flatnonzero(n_occurrences == 0)]
    if missing:
        log.warning("%d of %d concept words never occur in their sentences (contextual embedding NaN): %s",
                    len(missing), len(words), ", ".join(missing))
    with np.errstate(invalid="ignore", divide="ignore"):
        contextual = (context_sum / n_occurrences[:, None]).astype(np.float32)
    contextual[n_occurrences == 0] = np.nan
    sentence_pool = (pool_sum / np.array([len(group) for group in sentences])[:, None]).astype(np.float32)
    return contextual, sentence_pool, n_occurrences


def baseline_embeddings(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    words: Sequence[str],
    sentences: Sequence[Sequence[str]],
    pooling: str = "mean",
    batch_size: int = 64,
    pos: Sequence[str | None] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, np.ndarray]:
    """Every embedding baseline, {name: [n_concepts, hidden] float32}: "word", "word_space" (only
    for space-sensitive tokenizers, see space_sensitive), "contextual" (NaN rows for words never
    found) and "sentence_pool"; arguments as in word_embeddings and sentence_embeddings."""
    result = {"word": word_embeddings(model, tokenizer, words, pooling, batch_size, device)}
    if space_sensitive(tokenizer):
        log.info("tokenizer is space-sensitive (' cat' != 'cat'): word_space computed beside word")
        result["word_space"] = word_embeddings(model, tokenizer, words, pooling, batch_size, device, leading_space=True)
    else:
        log.info("tokenizer ignores a leading space (' cat' == 'cat'): word_space not computed")
    contextual, sentence_pool, _ = sentence_embeddings(model, tokenizer, words, sentences, batch_size, pooling,
                                                       pos, device)
    result["contextual"], result["sentence_pool"] = contextual, sentence_pool
    return result


def concept_sentences(
    pool: pd.DataFrame, concepts: Sequence[str], max_sentences: int | None
) -> list[list[str]]:
    """Each concept's first ``max_sentences`` sentences (None: all) in pool order (by sentence_id), from
    the pool table (sentence_id, concept, sentence, ...); ValueError naming concepts that have none."""
    if max_sentences is not None and max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1 or None, got {max_sentences}")
    ordered = pool.sort_values("sentence_id", kind="stable")
    groups = ordered.groupby("concept", sort=False)["sentence"]
    found = {concept: list(group.head(max_sentences) if max_sentences else group) for concept, group in groups}
    absent = [concept for concept in concepts if concept not in found]
    if absent:
        raise ValueError(f"sentence pool has no sentences for {len(absent)} concept(s): {', '.join(absent[:10])}")
    return [found[concept] for concept in concepts]
