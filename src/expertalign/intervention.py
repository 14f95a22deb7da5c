"""Causal check of expert units: clamp a concept's top experts and measure whether the model says it.

Expert sets are found by correlation (AP). Following self-conditioning (Suau et al., 2022;
apple/ml-selfcond), a concept's top-k experts (highest score first) are fixed to their *typical
response* on the concept's positive sentences at every token, with the same forward hooks as
extraction, and the model is asked for the concept word after neutral prompts. The control fixes
as many units drawn at random (seeded) from the same selected modules, excluding the top-k experts,
each to its own typical response. A causal expert set raises the word's probability; a random one
of the same size should not.

Typical response of a unit = the mean over the concept's positive sentences of its pooled
response (max over tokens with the paper's pooling). Pooled responses are the statistic the
experts were ranked by, so their mean is the level a unit takes when the concept is present;
ml-selfcond uses the median of the same max-pooled responses, the mean is one forward pass and no
quantile per unit. Clamping a unit at every token, prompt and generated tokens alike, then asks
the model to behave as if the concept were present everywhere.

Measures, per prompt:
- ``logprob``: log P(the continuation starts with the concept word or one of its inflected forms),
  no sampling. Each form is tokenized after the prompt and a space (``prompt + " " + form``), so a
  tokenizer's leading-space convention (GPT-2's "Ġdog") is respected; forms whose tokens extend
  another form's tokens are covered by that form, so the probabilities of disjoint events are added.
- ``generated_share``: the share of ``n_samples`` sampled continuations (pure sampling: temperature
  1, no top-k/top-p; seeded, the same seed in every condition) that mention the word or a form.
``gain`` and ``share_gain`` are each measure minus its value at k = 0 for the same prompt.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

from expertalign.concepts import parse_concept
from expertalign.models import module_widths
from expertalign.responses import PROGRESS_INTERVAL_S, input_device, model_inputs, record_responses, recording_hooks
from expertalign.wordnet import inflections, mentions_concept

log = logging.getLogger(__name__)

CONDITIONS = ("experts", "random")
TABLE_COLUMNS = [
    "model", "checkpoint", "concept", "group", "k", "condition", "seed", "prompt",
    "logprob", "gain", "generated_share", "share_gain",
]


@contextlib.contextmanager
def clamped_units(
    model: PreTrainedModel, module_names: Sequence[str], units: Sequence[int], values: Sequence[float]
) -> Iterator[None]:
    """Fix each unit to its value at every token while the context is open; hooks removed on exit.

    ``units`` [k]: column indices of the unit table over ``module_names`` (modules in order, then
    channels); ``values`` [k]: the value each one takes. A module output [batch, seq, channels] is
    replaced by a copy whose chosen channels hold the values; other channels and modules are
    untouched; k = 0 registers no hook.
    """
    units = np.asarray(units, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    if units.ndim != 1 or units.shape != values.shape:
        raise ValueError(f"units {units.shape} and values {values.shape} must be 1-d and of equal length")
    if len(np.unique(units)) != len(units):
        raise ValueError("units to clamp must be distinct")
    offsets = np.concatenate([[0], np.cumsum(module_widths(model, list(module_names)))])
    if len(units) and (units.min() < 0 or units.max() >= offsets[-1]):
        raise ValueError(f"units must lie in 0..{offsets[-1] - 1}, got {units.min()}..{units.max()}")
    module_of = np.searchsorted(offsets, units, side="right") - 1
    modules = dict(model.named_modules())
    hooked, targets = [], []
    for index in np.unique(module_of):
        chosen = module_of == index
        device = modules[module_names[index]].weight.device
        hooked.append(module_names[index])
        targets.append((torch.as_tensor(units[chosen] - offsets[index], device=device),
                        torch.as_tensor(values[chosen], device=device)))

    def clamp(index: int, output: torch.Tensor) -> torch.Tensor:
        channels, fixed = targets[index]
        clamped = output.clone()
        clamped[..., channels] = fixed.to(clamped.dtype)
        return clamped

    with recording_hooks(model, hooked, clamp):
        yield


def top_experts(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices [k] of the k highest ``scores`` [n_units], highest first (ties: lower index first)."""
    return np.argsort(-np.asarray(scores), kind="stable")[:k]


def random_units(n_units: int, exclude: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct units [k] drawn uniformly from 0..n_units-1 without ``exclude``."""
    candidates = np.setdiff1d(np.arange(n_units), exclude)
    if len(candidates) < k:
        raise ValueError(f"cannot draw {k} control units: only {len(candidates)} of {n_units} units are not experts")
    return rng.choice(candidates, size=k, replace=False)


def word_continuations(tokenizer: PreTrainedTokenizerBase, prompt: str, forms: Sequence[str]) -> list[tuple[int, ...]]:
    """Token ids that continue ``prompt`` with each form after a space, without those that extend another.

    The prompt's own tokens must be a prefix of ``prompt + " " + form``'s (ValueError naming both
    otherwise). Underscores of multiword lemmas become spaces.
    """
    prompt_ids = tokenizer(prompt)["input_ids"]
    found = set()
    for form in sorted(forms):
        ids = tokenizer(f"{prompt} {form.replace('_', ' ')}")["input_ids"]
        if ids[: len(prompt_ids)] != prompt_ids or len(ids) == len(prompt_ids):
            raise ValueError(f"prompt {prompt!r}: its tokens change when {form!r} follows; end prompts with a word")
        found.add(tuple(ids[len(prompt_ids):]))
    return sorted(s for s in found if not any(o != s and s[: len(o)] == o for o in found))


def continuation_logprobs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    forms: Sequence[str],
    batch_size: int = 64,
) -> np.ndarray:
    """[n_prompts] log P(the continuation of each prompt starts with one of ``forms``), in nats.

    Teacher-forced: every (prompt, form tokens) sequence in right-padded batches of ``batch_size``;
    a form's log-probability is the sum over its tokens; forms are combined by logsumexp.
    """
    rows = [(p, prompt, seq) for p, prompt in enumerate(prompts) for seq in word_continuations(tokenizer, prompt, forms)]
    prompt_lengths = [len(tokenizer(prompt)["input_ids"]) for prompt in prompts]
    scores = torch.empty(len(rows), dtype=torch.float64)
    device = input_device(model)
    pad = tokenizer.pad_token_id
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        ids = [tokenizer(prompt)["input_ids"] + list(seq) for _, prompt, seq in chunk]
        width = max(map(len, ids))
        input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])
        encoding = BatchEncoding({"input_ids": input_ids, "attention_mask": mask})
        with torch.inference_mode():
            logits = model(**model_inputs(model, encoding, device)).logits.float()
        token_logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None].to(device))[..., 0]
        positions = torch.arange(1, width)
        for i, (p, _, seq) in enumerate(chunk):
            first = prompt_lengths[p]
            in_form = (positions >= first) & (positions < first + len(seq))
            scores[start + i] = token_logprobs[i].cpu()[in_form].double().sum()
    owner = torch.tensor([p for p, _, _ in rows])
    return np.array([torch.logsumexp(scores[owner == p], dim=0).item() for p in range(len(prompts))])


def generated_shares(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    word: str,
    pos: str,
    n_samples: int,
    max_new_tokens: int,
    seed: int,
) -> np.ndarray:
    """[n_prompts] share of ``n_samples`` sampled continuations per prompt that mention ``word``.

    Pure sampling (temperature 1, no top-k or top-p) of ``max_new_tokens`` tokens, all prompts in
    one left-padded batch, under ``torch.manual_seed(seed)`` in a forked RNG (the caller's RNG is
    untouched). A mention: :func:`expertalign.wordnet.mentions_concept` (the word or an inflection).
    """
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        encoding = tokenizer(list(prompts), return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    device = input_device(model)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        output = model.generate(
            input_ids=encoding["input_ids"].to(device), attention_mask=encoding["attention_mask"].to(device),
            do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
            num_return_sequences=n_samples, pad_token_id=tokenizer.pad_token_id,
        )
    texts = tokenizer.batch_decode(output[:, encoding["input_ids"].shape[1]:], skip_special_tokens=True)
    hits = np.array([mentions_concept(text, word, pos) for text in texts], dtype=np.float64)
    return hits.reshape(len(prompts), n_samples).mean(axis=1)


def typical_responses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    module_names: Sequence[str],
    pooling: str = "max",
    batch_size: int = 32,
    max_length: int = 128,
) -> np.ndarray:
    """[n_units] mean over ``sentences`` of each unit's pooled response (record_responses), float32."""
    responses = record_responses(model, tokenizer, sentences, module_names, batch_size=batch_size, pooling=pooling,
                                 max_length=max_length, progress=False)
    return responses.mean(dim=0).numpy()


def _conditions(scores: np.ndarray, ks: Sequence[int], control_seeds: int, rng_key: Sequence[int]):
    """(k, condition, seed, units [k]) of every intervention; k = 0 first, once per condition and seed."""
    ks = sorted(set(ks) | {0})
    n_units = len(scores)
    if 2 * ks[-1] > n_units:
        raise ValueError(f"intervention.ks: k={ks[-1]} experts plus as many control units exceed the {n_units} units")
    for k in ks:
        experts = top_experts(scores, k)
        yield k, "experts", 0, experts
        for seed in range(control_seeds):
            rng = np.random.default_rng([*rng_key, seed, k])
            yield k, "random", seed, random_units(n_units, experts, k, rng)


def concept_intervention(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    module_names: Sequence[str],
    concept: str,
    scores: np.ndarray,
    positives: Sequence[str],
    *,
    ks: Sequence[int],
    control_seeds: int,
    prompts: Sequence[str],
    n_samples: int,
    max_new_tokens: int,
    seed: int,
    pooling: str = "max",
    batch_size: int = 32,
    max_length: int = 128,
) -> pd.DataFrame:
    """One concept's rows: k, condition, seed, prompt, logprob, gain, generated_share, share_gain.

    ``lm``: a causal LM whose ``base_model`` holds ``module_names``; ``scores`` [n_units]: the
    concept's expertise scores; ``positives``: its positive sentences (typical responses).
    ``n_samples`` = 0 skips sampling (generated_share NaN). Control draws are seeded by ``seed``,
    the concept id and the control seed, so one concept's draws do not depend on the others.
    """
    word, pos = parse_concept(concept)
    forms = sorted(inflections(word, pos))
    typical = typical_responses(lm.base_model, tokenizer, positives, module_names, pooling, batch_size, max_length)
    rng_key = [seed, zlib.crc32(concept.encode())]
    frames, measured = [], {}
    for k, condition, control_seed, units in _conditions(scores, ks, control_seeds, rng_key):
        key = tuple(units)
        if key not in measured:  # k = 0: one measurement shared by every condition and seed
            with clamped_units(lm.base_model, module_names, units, typical[units]):
                logprob = continuation_logprobs(lm, tokenizer, prompts, forms, batch_size)
                share = (generated_shares(lm, tokenizer, prompts, word, pos, n_samples, max_new_tokens, seed)
                         if n_samples else np.full(len(prompts), np.nan))
            measured[key] = (logprob, share)
        logprob, share = measured[key]
        base_logprob, base_share = measured[()]
        frames.append(pd.DataFrame(dict(
            k=k, condition=condition, seed=control_seed, prompt=list(prompts), logprob=logprob,
            gain=logprob - base_logprob, generated_share=share, share_gain=share - base_share,
        )))
    return pd.concat(frames, ignore_index=True)


def check_prompts(prompts: Sequence[str]) -> None:
    """Raise ValueError naming the first prompt that is empty or ends in whitespace."""
    if not prompts:
        raise ValueError("intervention.prompts: at least one prompt is needed")
    for prompt in prompts:
        if not prompt.strip() or prompt != prompt.rstrip():
            raise ValueError(f"intervention.prompts: {prompt!r} is empty or ends in whitespace")


def intervention_table(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    module_names: Sequence[str],
    concepts: Sequence[str],
    scores: np.ndarray,
    positives: Mapping[str, Sequence[str]],
    groups: Mapping[str, str],
    *,
    model: str,
    checkpoint: str,
    progress: bool = True,
    **settings,
) -> pd.DataFrame:
    """The tidy table (:data:`TABLE_COLUMNS`) of every concept: :func:`concept_intervention` per row
    of ``scores`` [n_concepts, n_units]; ``groups`` names each concept's group (default "other")."""
    check_prompts(settings["prompts"])
    if scores.shape[0] != len(concepts):
        raise ValueError(f"{len(concepts)} concepts but {scores.shape[0]} score rows")
    frames = []
    for concept, row in tqdm(list(zip(concepts, scores)), desc="intervention", unit="concept",
                             mininterval=PROGRESS_INTERVAL_S, disable=not progress):
        if not positives.get(concept):
            raise ValueError(f"concept {concept} has no positive sentences in the fold")
        part = concept_intervention(lm, tokenizer, module_names, concept, row, positives[concept], **settings)
        frames.append(part.assign(model=model, checkpoint=checkpoint, concept=concept,
                                  group=groups.get(concept, "other")))
    return pd.concat(frames, ignore_index=True)[TABLE_COLUMNS] if frames else empty_table()


def empty_table() -> pd.DataFrame:
    """A table with the columns of :data:`TABLE_COLUMNS` and no rows (a model without an LM head)."""
    return pd.DataFrame(columns=TABLE_COLUMNS)


def positive_sentences(pool: pd.DataFrame, fold: Mapping, concepts: Sequence[str]) -> dict[str, list[str]]:
    """Each concept's positive sentences of ``fold`` (its "positives" ids looked up in the pool's sentence_id)."""
    text = pool.set_index("sentence_id")["sentence"]
    missing = [c for c in concepts if c not in fold["positives"]]
    if missing:
        raise ValueError(f"concept(s) {missing[:5]} have no positives in the fold")
    return {c: text.loc[fold["positives"][c]].tolist() for c in concepts}


def concept_scores(scored: Sequence[str], scores: np.ndarray, concepts: Sequence[str]) -> np.ndarray:
    """Rows [len(concepts), n_units] of ``scores`` [len(scored), n_units] for ``concepts``, in their order."""
    row = {c: i for i, c in enumerate(scored)}
    missing = [c for c in concepts if c not in row]
    if missing:
        raise ValueError(f"concept(s) {missing[:5]} have no scores")
    return scores[[row[c] for c in concepts]]
