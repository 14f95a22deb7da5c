"""Record per-sentence unit responses with forward hooks.

The response of unit (module m, channel j) to a sentence is its output channel j pooled over the
sentence's real tokens (padding masked out): ``max`` (the paper's), ``mean`` or ``last``. It does
not depend on the batch a sentence is in, nor on left or right padding (position ids are derived
from the attention mask), bit for bit for float32 models on CPU (see :func:`batch_invariant_forward`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator, Sequence

import torch
from tqdm.auto import tqdm
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

from expertalign.models import module_widths

log = logging.getLogger(__name__)

POOLINGS = ("max", "mean", "last")
PROGRESS_INTERVAL_S = 30.0  # tqdm mininterval: a handful of lines per minute in log files


def input_device(model: PreTrainedModel) -> torch.device:
    """The device of ``model``'s input embeddings (where input ids must go)."""
    return model.get_input_embeddings().weight.device


def context_length(model: PreTrainedModel) -> int | None:
    """Tokens the model can take at once (config max_position_embeddings or n_positions), or None."""
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(model.config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def model_inputs(model: PreTrainedModel, encoding: BatchEncoding, device: torch.device) -> dict[str, torch.Tensor]:
    """Keyword arguments of ``model.forward`` for a padded batch, on ``device``.

    Adds ``position_ids`` = running count of real tokens - 1, so a left-padded sentence gets the
    same positions as alone; keys the forward does not accept (e.g. token_type_ids) are dropped;
    no key/value cache is built.
    """
    accepted = inspect.signature(model.forward).parameters
    inputs = {k: v.to(device) for k, v in encoding.items() if k in accepted and isinstance(v, torch.Tensor)}
    if "position_ids" in accepted:
        mask = inputs["attention_mask"]
        inputs["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
    if "use_cache" in accepted:
        inputs["use_cache"] = False
    return inputs


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """[batch] index of each row's last real token for a [batch, seq] 0/1 mask (left or right padding)."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    return (mask.bool() * positions).argmax(dim=1)


def real_token_spans(mask: torch.Tensor) -> list[tuple[int, int, int, int]]:
    """Runs of consecutive rows whose real tokens sit at the same positions, as (row0, row1, tok0, tok1).

    ``mask`` [batch, seq] is 1 for real tokens (one contiguous run per row, left or right padded).
    In a batch sorted by length, a few runs cover all rows, so pooling reads each output once,
    through views, with a few kernels per module instead of masking copies.
    """
    mask = mask.bool().cpu()
    first = mask.int().argmax(dim=1).tolist()
    last = last_token_index(mask).tolist()
    counts = mask.sum(dim=1).tolist()
    spans: list[tuple[int, int, int, int]] = []
    for row, (tok0, tok1, count) in enumerate(zip(first, last, counts)):
        if count != tok1 - tok0 + 1 or count == 0:
            raise ValueError(f"batch row {row}: real tokens must form one non-empty run (attention mask {mask[row]})")
        if spans and spans[-1][2:] == (tok0, tok1 + 1):
            spans[-1] = (spans[-1][0], row + 1, tok0, tok1 + 1)
        else:
            spans.append((row, row + 1, tok0, tok1 + 1))
    return spans


def pool_span(tokens: torch.Tensor, pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool real tokens [rows, tokens, channels] -> (responses [rows, channels] float32, finite [rows] bool).

    ``finite`` is False where a NaN or inf sits among the tokens (their float32 sum is not finite;
    ``amax`` and ``sum`` are vectorised, ``aminmax`` is not) for max and mean pooling, and in the
    last token for last pooling.
    """
    if pooling == "last":
        final = tokens[:, -1].float()
        return final, torch.isfinite(final).all(dim=1)
    total = tokens.sum(dim=1, dtype=torch.float32)
    finite = torch.isfinite(total).all(dim=1)
    if pooling == "max":
        return tokens.amax(dim=1).float(), finite
    if pooling == "mean":
        return total / tokens.shape[1], finite
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


@contextlib.contextmanager
def recording_hooks(model: PreTrainedModel, module_names: Sequence[str], hook_fn) -> Iterator[None]:
    """Register ``hook_fn(index, output)`` as forward hook on each named module; removed on exit."""
    modules = dict(model.named_modules())
    handles = []
    try:
        for index, name in enumerate(module_names):
            handles.append(
                modules[name].register_forward_hook(lambda _m, _in, out, index=index: hook_fn(index, out))
            )
        yield
    finally:
        for handle in handles:
            handle.remove()


def _float32_on_cpu(model: PreTrainedModel) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return all(t.device.type == "cpu" for t in tensors) and all(
        t.dtype == torch.float32 for t in tensors if t.is_floating_point())


@contextlib.contextmanager
def batch_invariant_forward(model: PreTrainedModel) -> Iterator[None]:
    """Run a float32 CPU ``model`` in float64 inside the block, then restore it bit for bit.

    Why: CPU matrix kernels sum in an order that depends on how many rows they get (batch size x
    padded length), so a float32 response moves by up to ~1e-7 with the batch its sentence is in.
    Responses equal by construction (a causal LM's first-token output is the same for every
    sentence that starts with that token; max pooling often picks it) then tie exactly within one
    batch but not across batches, and AP scores ties differently (up to 0.2 on a tiny model). No
    rounding grid cures that: a fixed grid still splits values that fall near its boundaries. In
    float64 the kernels differ by ~1e-16 and the pooled responses, rounded to float32, agree
    unless a value lies within ~1e-16 of a float32 rounding boundary (~1e-9 per value): scores no
    longer depend on batch size, padding side or which concepts share a job. float32 -> float64
    -> float32 is exact, so the model's weights are unchanged afterwards. Models on a GPU or in
    bf16/fp16 run as loaded (their responses depend on batching at their own precision).
    """
    if not _float32_on_cpu(model):
        yield
        return
    model.to(torch.float64)
    try:
        yield
    finally:
        model.to(torch.float32)


def _check_sentences(sentences: Sequence[str]) -> None:
    for index, sentence in enumerate(sentences):
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError(f"sentence {index} is empty or not a string: {sentence!r}")


def _token_lengths(tokenizer: PreTrainedTokenizerBase, sentences: Sequence[str]) -> list[int]:
    """Tokens per sentence before truncation; ValueError naming a sentence that has none."""
    lengths = [len(ids) for ids in tokenizer(list(sentences), truncation=False)["input_ids"]]
    if 0 in lengths:
        index = lengths.index(0)
        raise ValueError(f"sentence {index} has no tokens: {sentences[index]!r}")
    return lengths


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Sentence indices grouped in batches of similar length, longest first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class _BatchRecorder:
    """Forward-hook state: pools each module's output into a preallocated [batch, n_units] buffer."""

    def __init__(self, module_names: Sequence[str], widths: Sequence[int], pooling: str, device: torch.device):
        self.module_names = list(module_names)
        self.offsets = [0]
        for width in widths:
            self.offsets.append(self.offsets[-1] + width)
        self.pooling = pooling
        self.device = device
        self.spans: list[tuple[int, int, int, int]] = []
        self.buffer: torch.Tensor | None = None
        self.finite: torch.Tensor | None = None

    def start(self, mask: torch.Tensor) -> None:
        """Prepare for a batch with attention mask [batch, seq] (on CPU: no device sync)."""
        batch = mask.shape[0]
        self.spans = real_token_spans(mask)
        self.buffer = torch.empty(batch, self.offsets[-1], dtype=torch.float32, device=self.device)
        self.finite = torch.ones(batch, len(self.module_names), dtype=torch.bool, device=self.device)

    def __call__(self, index: int, output: torch.Tensor) -> None:
        if output.dim() != 3:
            raise ValueError(f"module {self.module_names[index]} output has shape {tuple(output.shape)}, "
                             "expected [batch, seq, channels]")
        start, stop = self.offsets[index], self.offsets[index + 1]
        for row0, row1, tok0, tok1 in self.spans:
            pooled, finite = pool_span(output[row0:row1, tok0:tok1], self.pooling)
            self.buffer[row0:row1, start:stop] = pooled.to(self.device)
            self.finite[row0:row1, index] = finite.to(self.device)

    def check_finite(self, sentence_ids: Sequence[int]) -> None:
        """Raise ValueError naming the first module and sentence with a NaN or inf output."""
        if bool(self.finite.all()):
            return
        row, index = (~self.finite).nonzero()[0].tolist()
        raise ValueError(
            f"non-finite (NaN or inf) output in module {self.module_names[index]} "
            f"for sentence {sentence_ids[row]}"
        )


def record_responses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    module_names: Sequence[str],
    batch_size: int = 32,
    pooling: str = "max",
    max_length: int = 128,
    device: torch.device | str | None = None,
    progress: bool = True,
    output_device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Responses [n_sentences, n_units] float32 of every unit to every sentence, in input order.

    Columns follow ``module_names`` then channels (the unit table's order). ``device``: where
    inputs go (default: the model's input embeddings); ``output_device``: where the result lives
    (cpu by default; the model's device keeps a GPU pipeline off the host). Sentences longer than
    ``max_length`` tokens (or the model's context) are truncated, with one warning giving the count.
    A float32 model on CPU runs in float64 (:func:`batch_invariant_forward`), so responses do not
    depend on batching.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_sentences(sentences)
    device = input_device(model) if device is None else torch.device(device)
    widths = module_widths(model, module_names)
    result = torch.empty(len(sentences), sum(widths), dtype=torch.float32, device=output_device)
    limit = min(max_length, context_length(model) or max_length)
    lengths = _token_lengths(tokenizer, sentences)
    n_long = sum(length > limit for length in lengths)
    if n_long:
        log.warning("%d of %d sentences are longer than %d tokens and were truncated", n_long, len(sentences), limit)
    recorder = _BatchRecorder(module_names, widths, pooling, device)
    bar = tqdm(total=len(sentences), unit="sent", mininterval=PROGRESS_INTERVAL_S, disable=not progress,
               desc="responses")
    with (recording_hooks(model, module_names, recorder), batch_invariant_forward(model), torch.inference_mode(),
          bar):
        for batch in batches_by_length(lengths, batch_size):
            encoding = tokenizer([sentences[i] for i in batch], padding=True, truncation=True,
                                 max_length=limit, return_tensors="pt")
            recorder.start(encoding["attention_mask"])
            inputs = model_inputs(model, encoding, device)
            model(**inputs)
            recorder.check_finite(batch)
            result[torch.as_tensor(batch, device=result.device)] = recorder.buffer.to(result.device)
            bar.update(len(batch))
    return result
