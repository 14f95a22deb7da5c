"""Responses: independent of batch and padding side, pooling as specified, clear errors."""

import logging
import random

import pytest
import torch

from expertalign.models import load_model, module_widths, select_modules
from expertalign.responses import pool_span, real_token_spans, record_responses
from tiny_models import TEXT, build_tiny_model


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences of 1 to 25 words of the tiny vocabulary, some with out-of-vocabulary words."""
    rng = random.Random(seed)
    words = TEXT + ["zebras", "quixotic", "xylophone"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 25))) + "." for _ in range(n)]


@pytest.fixture(scope="module", params=["gpt_neox", "gpt2", "bert"])
def tiny(request, tmp_path_factory):
    path = build_tiny_model(request.param, tmp_path_factory.mktemp(request.param), seed=1)
    model, tokenizer = load_model(str(path), device="cpu")
    return model, tokenizer, select_modules(model)


def manual_pooled(model, tokenizer, sentence: str, module: str, pooling: str) -> torch.Tensor:
    """Pooled output [channels] of ``module`` for ``sentence`` run alone (no padding), via a hook."""
    captured = []
    handle = dict(model.named_modules())[module].register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.no_grad():
            model(**tokenizer(sentence, return_tensors="pt"))
    finally:
        handle.remove()
    tokens = captured[0][0]  # [seq, channels]
    return {"max": tokens.max(0).values, "mean": tokens.mean(0), "last": tokens[-1]}[pooling]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_response_does_not_depend_on_batch_padding_or_threads(tiny, padding_side, threads):
    """Bit for bit: the same responses alone, in batches of 5 or 32, left or right padded, on 1 or 2 threads."""
    model, tokenizer, modules = tiny
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    torch.set_num_threads(threads)
    batch = sentences(33)
    alone = record_responses(model, tokenizer, batch, modules, batch_size=1, progress=False)
    tokenizer.padding_side = padding_side
    try:
        together = {size: record_responses(model, tokenizer, batch, modules, batch_size=size, progress=False)
                    for size in (5, 32)}
    finally:
        tokenizer.padding_side = "right"
    assert alone.shape == (33, sum(module_widths(model, modules)))
    assert alone.dtype == torch.float32 and alone.device.type == "cpu"
    for responses in together.values():
        assert torch.equal(responses, alone)
    state = model.state_dict()
    assert all(state[name].dtype == value.dtype and torch.equal(state[name], value) for name, value in weights.items())


def test_first_token_ties_of_a_causal_model_hold_across_batches(tmp_path):
    """Sentences that start with the same token share a causal LM's first-token outputs; where max
    pooling picks that token, their responses tie, and must tie whichever batches they run in."""
    path = build_tiny_model("gpt_neox", tmp_path, seed=2)
    model, tokenizer = load_model(str(path), device="cpu")
    modules = select_modules(model)
    batch = ["the " + s for s in sentences(24, seed=5)]
    alone = record_responses(model, tokenizer, batch, modules, batch_size=1, progress=False)
    mixed = record_responses(model, tokenizer, batch, modules, batch_size=7, progress=False)
    first = record_responses(model, tokenizer, ["the"] * 2, modules, batch_size=1, progress=False)[0]
    at_first = alone == first  # [sentences, units]: the maximum sits on the shared first token
    tied_units = (at_first.sum(dim=0) >= 2).sum().item()
    assert 0 < tied_units < alone.shape[1]
    assert torch.equal(mixed, alone)


@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
def test_pooling_matches_a_manual_hook(tiny, pooling):
    model, tokenizer, modules = tiny
    batch = sentences(9, seed=1)
    recorded = record_responses(model, tokenizer, batch, modules, batch_size=4, pooling=pooling, progress=False)
    widths = module_widths(model, modules)
    for index in (2, 5):  # a middle module and an MLP module
        start = sum(widths[:index])
        for row in (0, 4, 8):
            expected = manual_pooled(model, tokenizer, batch[row], modules[index], pooling)
            torch.testing.assert_close(recorded[row, start : start + widths[index]], expected, atol=1e-5, rtol=0)


def test_rows_follow_input_order(tiny):
    model, tokenizer, modules = tiny
    batch = sentences(10, seed=2)
    forward = record_responses(model, tokenizer, batch, modules, batch_size=3, progress=False)
    backward = record_responses(model, tokenizer, batch[::-1], modules, batch_size=3, progress=False)
    torch.testing.assert_close(forward, backward.flip(0), atol=1e-5, rtol=0)


def test_empty_sentence_is_named(tiny):
    model, tokenizer, modules = tiny
    with pytest.raises(ValueError, match="sentence 1 "):
        record_responses(model, tokenizer, ["a dog.", "   ", "a cat."], modules, progress=False)


def test_long_sentences_are_truncated_with_a_count(tiny, caplog):
    model, tokenizer, modules = tiny
    batch = ["the dog ran to the river and the cat slept", "a dog", "one two three four five six seven eight"]
    with caplog.at_level(logging.WARNING, logger="expertalign.responses"):
        truncated = record_responses(model, tokenizer, batch, modules, max_length=5, progress=False)
    assert "2 of 3 sentences are longer than 5 tokens" in caplog.text
    short = tokenizer.decode(tokenizer(batch[0], truncation=True, max_length=5)["input_ids"],
                             skip_special_tokens=True)
    torch.testing.assert_close(truncated[0], record_responses(model, tokenizer, [short], modules, progress=False)[0],
                               atol=1e-5, rtol=0)


def test_non_finite_output_names_module_and_sentence_and_hooks_are_removed(tmp_path):
    model, tokenizer = load_model(str(build_tiny_model("gpt_neox", tmp_path / "neox")), device="cpu")
    modules = select_modules(model)
    poisoned = tokenizer.convert_tokens_to_ids("storm")
    with torch.no_grad():
        model.get_input_embeddings().weight[poisoned] = float("nan")
    batch = ["a dog ran home", "the cat slept", "a storm came", "the sun shone"]
    with pytest.raises(ValueError, match=r"layers\.0\.attention\.query_key_value for sentence 2"):
        record_responses(model, tokenizer, batch, modules, batch_size=4, progress=False)
    assert all(not module._forward_hooks for module in model.modules())


def test_bad_pooling_is_rejected(tiny):
    model, tokenizer, modules = tiny
    with pytest.raises(ValueError, match="pooling"):
        record_responses(model, tokenizer, ["a dog."], modules, pooling="median", progress=False)


def test_spans_group_rows_with_the_same_real_tokens():
    right = torch.tensor([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0]])
    assert real_token_spans(right) == [(0, 2, 0, 3), (2, 3, 0, 2), (3, 4, 0, 1)]
    assert real_token_spans(right.flip(1)) == [(0, 2, 0, 3), (2, 3, 1, 3), (3, 4, 2, 3)]
    with pytest.raises(ValueError, match="one non-empty run"):
        real_token_spans(torch.tensor([[1, 0, 1]]))


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_any_non_finite_token_is_flagged(pooling):
    tokens = torch.randn(3, 4, 5)
    tokens[1, 2, 3] = float("-inf")  # not the maximum, yet flagged
    pooled, finite = pool_span(tokens, pooling)
    assert finite.tolist() == [True, False, True]
    expected = tokens.amax(1) if pooling == "max" else tokens.mean(1)
    torch.testing.assert_close(pooled[[0, 2]], expected[[0, 2]])
