"""Embedding baselines: the word's own tokens (bare, after a space, in context) and sentence means of
the final hidden layer, batch- and padding-independent."""

import re

import numpy as np
import pandas as pd
import pytest
import torch

from expertalign.measures import cosine_similarities
from expertalign.embeddings import (
    baseline_embeddings,
    concept_sentences,
    occurrence_pattern,
    sentence_embeddings,
    space_sensitive,
    word_embeddings,
)
from expertalign.models import load_model
from tiny_models import build_tiny_model

WORDS = ["dog", "lakeside", "cat", "xylophone", "a", "quixotic"]  # some split into several tokens


@pytest.fixture(scope="module", params=["gpt_neox", "bert", "bpe"])
def tiny(request, tmp_path_factory):
    """(family, model, tokenizer); "bpe": the tiny GPT-NeoX with a byte-level BPE tokenizer."""
    family = "gpt_neox" if request.param == "bpe" else request.param
    path = build_tiny_model(family, tmp_path_factory.mktemp(request.param), seed=3, byte_level=request.param == "bpe")
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


def test_space_sensitive_only_for_byte_level_bpe(tiny):
    family, _, tokenizer = tiny
    assert space_sensitive(tokenizer) == (family == "bpe")


def manual_spaced_embedding(model, tokenizer, text, pooling):
    """Final hidden states of ``text`` (no special tokens), pooled over the tokens that are not a bare space."""
    encoding = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        hidden = model(**encoding).last_hidden_state[0]
    keep = [token != "\u0120" for token in tokenizer.convert_ids_to_tokens(encoding["input_ids"][0])]
    hidden = hidden[torch.tensor(keep)]
    return hidden.mean(0) if pooling == "mean" else hidden[-1]


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_leading_space_feeds_space_word(tiny, pooling):
    family, model, tokenizer = tiny
    words = WORDS + [" dog"]  # " dog" is fed as "  dog": byte-level BPE gives a bare-space token, not pooled
    spaced = word_embeddings(model, tokenizer, words, pooling=pooling, batch_size=3, leading_space=True)
    bare = word_embeddings(model, tokenizer, WORDS, pooling=pooling, batch_size=3)
    if family != "bpe":  # WordPiece drops the space: same as the bare word
        np.testing.assert_allclose(spaced[: len(WORDS)], bare, atol=1e-5)
        return
    assert tokenizer.convert_ids_to_tokens(tokenizer("  dog", add_special_tokens=False)["input_ids"])[0] == "\u0120"
    for index, word in enumerate(words):
        expected = manual_spaced_embedding(model, tokenizer, " " + word, pooling).numpy()
        np.testing.assert_allclose(spaced[index], expected, atol=1e-5)
    assert not np.allclose(spaced[: len(WORDS)], bare, atol=1e-3)


CONTEXT_WORDS = ["cat", "dog", "lakeside", "xylophone"]
CONTEXT_SENTENCES = [
    ["the cat sat near the river.", "Two cats and a Cat played.", "a category of cat food"],
    ["a dog ran.", "the dog's tail and the dogs."],
    ["the lakeside town was quiet by the lakeside at night in the evening with many people."],
    ["nothing here at all.", "the bird sang."],
]
#: The forms each concept's occurrences take, found below by a plain case-sensitive regex.
CONTEXT_FORMS = [["cat", "cats", "Cat"], ["dog", "dogs"], ["lakeside"], ["xylophone"]]


def occurrence_spans(sentence, forms):
    return [m.span() for form in forms for m in re.finditer(rf"(?<![\w]){form}(?![\w])", sentence)]


def manual_sentence(family, model, tokenizer, sentence, spans, pooling):
    """(pooled occurrence states, mean state of the non-special tokens) of ``sentence`` run alone."""
    encoding = tokenizer(sentence, return_tensors="pt", add_special_tokens=family == "bert",
                         return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = encoding.pop("offset_mapping")[0].tolist()
    special = encoding.pop("special_tokens_mask")[0].bool()
    with torch.no_grad():
        hidden = model(**encoding).last_hidden_state[0]
    occurrences = []
    for start, end in spans:
        positions = [i for i, (a, b) in enumerate(offsets) if a < end and b > start and not special[i]]
        states = hidden[positions]
        occurrences.append(states.mean(0) if pooling == "mean" else states[-1])
    return occurrences, hidden[~special].mean(0)


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_contextual_and_sentence_pool_match_each_sentence_alone(tiny, pooling):
    family, model, tokenizer = tiny
    contextual, sentence_pool, counts = sentence_embeddings(
        model, tokenizer, CONTEXT_WORDS, CONTEXT_SENTENCES, batch_size=3, pooling=pooling, pos=["n"] * 4
    )
    hidden = model.config.hidden_size
    assert contextual.shape == sentence_pool.shape == (4, hidden)
    assert contextual.dtype == sentence_pool.dtype == np.float32
    assert counts.tolist() == [4, 3, 2, 0]  # cats/Cat inflected and any case; not "category"; dog's -> dog
    assert np.isnan(contextual[3]).all() and not np.isnan(contextual[:3]).any()
    for concept, sentences in enumerate(CONTEXT_SENTENCES):
        occurrences, means = [], []
        for sentence in sentences:
            found, mean = manual_sentence(family, model, tokenizer, sentence,
                                          occurrence_spans(sentence, CONTEXT_FORMS[concept]), pooling)
            occurrences += found
            means.append(mean)
        np.testing.assert_allclose(sentence_pool[concept], torch.stack(means).mean(0).numpy(), atol=1e-5)
        if occurrences:
            np.testing.assert_allclose(contextual[concept], torch.stack(occurrences).mean(0).numpy(), atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_sentence_embeddings_do_not_depend_on_batch_or_padding(tiny, pooling):
    _, model, tokenizer = tiny
    reference = sentence_embeddings(model, tokenizer, CONTEXT_WORDS, CONTEXT_SENTENCES, batch_size=1, pooling=pooling)
    for batch_size in (2, 64):
        for side in ("left", "right"):
            tokenizer.padding_side = side
            result = sentence_embeddings(model, tokenizer, CONTEXT_WORDS, CONTEXT_SENTENCES, batch_size, pooling)
            tokenizer.padding_side = "right"
            for expected, actual in zip(reference, result):
                np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_occurrence_pattern_whole_words_and_inflections():
    pattern = occurrence_pattern("cat", "n")
    assert [m.group() for m in pattern.finditer("Cats, cat's; a CAT. bobcat category cat-like")] == [
        "Cats", "cat", "CAT", "cat"]
    assert [m.group() for m in occurrence_pattern("run", "v").finditer("he runs, running, ran")] == [
        "runs", "running", "ran"]
    assert occurrence_pattern("run", None).search("runs") is not None


def test_sentence_embeddings_reject_bad_input(tiny):
    _, model, tokenizer = tiny
    with pytest.raises(ValueError, match="concept 1"):
        sentence_embeddings(model, tokenizer, ["cat", "dog"], [["a cat."], []])
    with pytest.raises(ValueError, match="2 words but 1"):
        sentence_embeddings(model, tokenizer, ["cat", "dog"], [["a cat."]])
    with pytest.raises(ValueError, match="pooling"):
        sentence_embeddings(model, tokenizer, ["cat"], [["a cat."]], pooling="max")


def test_baseline_embeddings_names_and_similarities(tiny):
    family, model, tokenizer = tiny
    embeddings = baseline_embeddings(model, tokenizer, CONTEXT_WORDS, CONTEXT_SENTENCES, "mean", batch_size=4)
    expected = ["word", "word_space", "contextual", "sentence_pool"] if family == "bpe" else [
        "word", "contextual", "sentence_pool"]
    assert list(embeddings) == expected
    np.testing.assert_allclose(embeddings["word"], word_embeddings(model, tokenizer, CONTEXT_WORDS), atol=1e-6)
    similarities = cosine_similarities(embeddings)
    assert list(similarities) == expected
    contextual, missing = similarities["contextual"]
    assert missing[3].all() and missing[:, 3].all() and not missing[:3, :3].any()
    assert (contextual[3] == 0).all() and (contextual[:, 3] == 0).all() and not np.isnan(contextual).any()
    x = embeddings["contextual"][:3].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(contextual[:3, :3], x @ x.T, atol=1e-5)
    assert not similarities["sentence_pool"][1].any()


def test_concept_sentences_in_pool_order():
    pool = pd.DataFrame({"sentence_id": [3, 0, 1, 2, 4], "concept": ["a-n", "b-n", "a-n", "a-n", "b-n"],
                         "sentence": ["a3", "b0", "a1", "a2", "b4"]})
    assert concept_sentences(pool, ["b-n", "a-n"], 2) == [["b0", "b4"], ["a1", "a2"]]
    assert concept_sentences(pool, ["a-n"], None) == [["a1", "a2", "a3"]]
    with pytest.raises(ValueError, match="c-n"):
        concept_sentences(pool, ["a-n", "c-n"], 2)
