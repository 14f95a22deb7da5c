"""Word embeddings: the word's own tokens of the final hidden layer, batch-independent."""

import numpy as np
import pytest
import torch

from expertalign.embeddings import word_embeddings
from expertalign.models import load_model
from tiny_models import build_tiny_model

WORDS = ["dog", "lakeside", "cat", "xylophone", "a", "quixotic"]  # some split into several tokens


@pytest.fixture(scope="module", params=["gpt_neox", "bert"])
def tiny(request, tmp_path_factory):
    path = build_tiny_model(request.param, tmp_path_factory.mktemp(request.param), seed=3)
    model, tokenizer = load_model(str(path), device="cpu")
    return request.param, model, tokenizer


def manual_embedding(family, model, tokenizer, word, pooling):
    """Final hidden states of ``word`` alone, without CLS/SEP, pooled."""
    encoding = tokenizer(word, return_tensors="pt", add_special_tokens=family == "bert")
    with torch.no_grad():
        hidden = model(**encoding).last_hidden_state[0]
    if family == "bert":
        hidden = hidden[1:-1]
    return hidden.mean(0) if pooling == "mean" else hidden[-1]


@pytest.mark.parametrize("pooling", ["mean", "last"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_embeddings_match_each_word_alone(tiny, pooling, padding_side):
    family, model, tokenizer = tiny
    tokenizer.padding_side = padding_side
    embeddings = word_embeddings(model, tokenizer, WORDS, pooling=pooling, batch_size=4)
    tokenizer.padding_side = "right"
    assert embeddings.shape == (len(WORDS), model.config.hidden_size) and embeddings.dtype == np.float32
    assert len(tokenizer(WORDS[1], add_special_tokens=False)["input_ids"]) > 1
    for index, word in enumerate(WORDS):
        expected = manual_embedding(family, model, tokenizer, word, pooling).numpy()
        np.testing.assert_allclose(embeddings[index], expected, atol=1e-5)


def test_empty_word_and_bad_pooling_are_rejected(tiny):
    _, model, tokenizer = tiny
    with pytest.raises(ValueError, match="word 1"):
        word_embeddings(model, tokenizer, ["dog", ""])
    with pytest.raises(ValueError, match="pooling"):
        word_embeddings(model, tokenizer, ["dog"], pooling="max")


def test_minilm_embeddings_carry_meaning():
    model, tokenizer = load_model("all-minilm-l6-v2", device="cpu")
    dog, puppy, algebra = word_embeddings(model, tokenizer, ["dog", "puppy", "algebra"])

    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(dog, puppy) > cosine(dog, algebra)
