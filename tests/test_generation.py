"""Tests of expertalign.generation: prompts, parsing, filtering, backends, resumable pools.

The OpenAI backend talks to a real HTTP server on 127.0.0.1 (tests/chat_server.py) through the
real openai client; the HF backend runs a tiny randomly initialised GPT-2 saved with a chat
template.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
from chat_server import ChatServer, Reply, bulleted, completion, error, no_choices, numbered

from expertalign.generation import (
    PROMPTS,
    BuiltinBackend,
    FileBackend,
    GenerationError,
    OpenAIBackend,
    build_prompt,
    filter_sentences,
    generate_pool,
    parse_reply,
    read_cache,
    tokenize_words,
    type_token_ratio,
)

DOG_SENTENCES = [
    "The dog waited by the door every evening for its owner.",
    "A wet dog shook itself dry right next to the picnic blanket.",
    "Dogs can hear sounds at frequencies far above human hearing.",
    "My grandmother's dog learned to open the fridge with its nose.",
    "Farmers have long relied on a loyal dog to guard their sheep.",
    "The shelter found a home for the old dog just before winter.",
    "Sled teams once carried medicine across Alaska, each dog pulling hard.",
    "A dog's sense of smell is tens of thousands of times keener than ours.",
    "During the storm, the frightened dog hid under the kitchen table.",
    "Police officers train with a dog to search collapsed buildings.",
    "Every morning the neighbour's dog barks at the mail carrier.",
    "Puppies grow into adult dogs within roughly one to two years.",
    "The lost dog followed the river until it reached the village.",
    "Some people believe a dog can sense an earthquake before it strikes.",
    "At the beach, our dog chased gulls until it was exhausted.",
    "A dog wags its tail to the right when it feels happy.",
    "The blind pianist trusted her dog to guide her across busy streets.",
    "Ancient Egyptians sometimes mummified a beloved dog with its owner.",
    "The dog buried a bone in the garden and forgot where it was.",
    "Veterinarians recommend walking a dog at least twice a day.",
    "When the baby cried, the family dog curled up beside the crib.",
    "Most dogs pant to cool down because they sweat only through their paws.",
    "The firefighters rescued a dog trapped on the roof of a burning barn.",
    "A dog will often tilt its head when it hears an unfamiliar noise.",
]


def _sentence_feed(per_reply: int):
    """A default responder handing out DOG_SENTENCES as numbered lists, per_reply at a time."""
    counter = itertools.count()

    def respond(request: dict) -> Reply:
        start = next(counter) * per_reply
        chunk = [DOG_SENTENCES[i % len(DOG_SENTENCES)] for i in range(start, start + per_reply)]
        return completion(numbered(chunk))

    return respond


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running


def _backend(server: ChatServer, **options) -> OpenAIBackend:
    settings = {"model": "fake-model", "timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.01,
                "api_key_env": "EXPERTALIGN_TEST_KEY"} | options
    return OpenAIBackend(server.url, **settings)


# ------------------------------------------------------------------ prompts


def test_build_prompt_is_the_papers_fact_prompt():
    assert build_prompt("fact", "poppy", "n", "annual or biennial or perennial herbs", n=10) == (
        "Generate a set of 10 sentences, including as many facts as possible, about the concept "
        "poppy as a noun and defined as annual or biennial or perennial herbs. Refer to the "
        "concept only as poppy without including specific classes, types, or names of poppy. "
        "Make sure the sentences are diverse and do not repeat."
    )


def test_build_prompt_story_fills_article_and_drops_a_missing_definition():
    story = build_prompt("story", "tall", "j", None, n=7)
    assert story.startswith("Generate a set of 7 sentences, where each sentence is a short story "
                            "about the concept tall as an adjective. Refer to the concept only as tall")
    assert "defined as" not in story
    assert "as a verb and defined as travel through water." in build_prompt("fact", "swim", "v",
                                                                            "travel through water")
    assert set(PROMPTS) == {"fact", "story"}
    with pytest.raises(ValueError, match="unknown prompt kind 'poem'"):
        build_prompt("poem", "dog", "n", None)


# ------------------------------------------------------------------ parsing and filtering


@pytest.mark.parametrize(
    "reply",
    [
        "Here are 3 sentences:\n\n1. The dog ran.\n2. A dog slept.\n3. Dogs bark.\n\nI hope this helps!",
        "1) The dog ran.\n2) A dog slept.\n3) Dogs bark.",
        "(1) The dog ran.\n(2) A dog slept.\n(3) Dogs bark.",
        "Sure! Here you go:\n- The dog ran.\n- A dog slept.\n- Dogs bark.",
        "* The dog ran.\n* A dog slept.\n* Dogs bark.",
        "\u2022 The dog ran.\n\u2022 A dog slept.\n\u2022 Dogs bark.",
        "Here are three sentences:\nThe dog ran.\n\nA dog slept.\nDogs bark.\n",
        '1. "The dog ran."\n2. \u201cA dog slept.\u201d\n3. \'Dogs bark.\'',
    ],
)
def test_parse_reply_handles_lists_lines_preambles_and_quotes(reply):
    assert parse_reply(reply) == ["The dog ran.", "A dog slept.", "Dogs bark."]


def test_parse_reply_keeps_numbers_and_apostrophes_inside_sentences():
    reply = "1.5 million dogs live in the city.\nThe dogs' bowls were full."
    assert parse_reply(reply) == ["1.5 million dogs live in the city.", "The dogs' bowls were full."]
    assert parse_reply("") == []


def test_filter_sentences_drops_by_reason():
    existing = ["The dog waited by the door every evening for its owner."]
    candidates = [
        "   ",
        "A cat sat on the mat all day long.",  # no concept
        "the DOG waited by the door   every evening for its owner.",  # duplicate of existing
        "The dog waited by the door every single evening for its owner.",  # near duplicate
        "Dogs can hear sounds at frequencies far above human hearing.",
        "dogs can hear sounds at frequencies far above human hearing.",  # duplicate of kept
        "Farmers have long relied on a loyal dog to guard their sheep.",
    ]
    kept, dropped = filter_sentences(candidates, "dog", "n", existing)
    assert kept == [candidates[4], candidates[6]]
    assert dropped == {"empty": 1, "no_concept": 1, "duplicate": 2, "near_duplicate": 1}


def test_tokens_and_type_token_ratio():
    assert tokenize_words("The dog\u2019s bowl, the DOG! 3 toys") == ["the", "dog's", "bowl", "the",
                                                                        "dog", "3", "toys"]
    assert type_token_ratio(["The dog ran.", "the dog sat"]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="without word tokens"):
        type_token_ratio(["...", ""])


# ------------------------------------------------------------------ OpenAI backend, real server


def test_openai_pool_from_numbered_and_bulleted_replies(server):
    server.queue(completion(numbered(DOG_SENTENCES[0:3])),
                 completion(bulleted(DOG_SENTENCES[3:6], "*")))
    server.default = _sentence_feed(3)
    backend = _backend(server, max_concurrency=1, temperature=0.7)
    records = generate_pool(backend, "dog-n", "a domestic canine", pool_size=6, per_call=3)
    assert [r["prompt"] for r in records] == ["fact"] * 3 + ["story"] * 3
    assert [r["sentence"] for r in records[:3]] == DOG_SENTENCES[0:3]
    assert set(records[0]) == {"concept", "word", "pos", "definition", "prompt", "sentence",
                               "generator"}
    assert {r["generator"] for r in records} == {"openai:fake-model"}
    sent = server.requests[0]
    assert sent["model"] == "fake-model" and sent["temperature"] == 0.7
    assert sent["messages"] == [{"role": "user", "content": build_prompt(
        "fact", "dog", "n", "a domestic canine", 3)}]
    assert server.requests[1]["messages"][0]["content"].startswith(
        "Generate a set of 3 sentences, where each sentence is a short story")


@pytest.mark.parametrize(
    "failure, reason",
    [
        (error(429, "slow down"), "HTTP 429"),
        (error(500, "boom"), "HTTP 500"),
        (error(503, "overloaded"), "HTTP 503"),
        (Reply(body="{not json"), "unparseable reply"),
        (no_choices(), "malformed reply (reply has no choices)"),
        (completion(None), "malformed reply (reply has no text content)"),
        (completion("   "), "malformed reply (reply has no text content)"),
    ],
)
def test_openai_retries_transient_failures_then_succeeds(server, caplog, failure, reason):
    server.queue(failure, completion("1. The dog ran."))
    with caplog.at_level(logging.WARNING, logger="expertalign.generation"):
        assert _backend(server).complete("prompt") == "1. The dog ran."
    assert len(server.requests) == 2
    assert f"openai:fake-model: {reason}; retry 1/2" in caplog.text


def test_openai_retries_a_timeout(server, caplog):
    server.queue(Reply(body=completion("late").body, delay_s=1.5), completion("1. On time, dog."))
    with caplog.at_level(logging.WARNING, logger="expertalign.generation"):
        assert _backend(server, timeout_s=0.3).complete("prompt") == "1. On time, dog."
    assert "timeout; retry 1/2" in caplog.text


def test_openai_gives_up_after_max_retries(server):
    server.queue(error(500), error(502), error(500))
    with pytest.raises(GenerationError, match="gave up after 3 attempts; last: HTTP 500"):
        _backend(server, max_retries=2).complete("prompt")
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 404])
def test_openai_does_not_retry_client_errors(server, status):
    server.queue(error(status, "nope"))
    with pytest.raises(GenerationError, match="not retried"):
        _backend(server).complete("prompt")
    assert len(server.requests) == 1


def test_openai_bounds_calls_in_flight(server):
    server.default = lambda request: Reply(body=completion("1. A dog.").body, delay_s=0.2)
    backend = _backend(server, max_concurrency=2)
    results = dict(backend.complete_many([f"prompt {i}" for i in range(6)]))
    assert sorted(results) == list(range(6))
    assert server.max_in_flight == 2


def test_openai_api_key_is_sent_but_never_logged_or_recorded(server, caplog, monkeypatch):
    secret = "sk-test-very-secret-0123456789"
    monkeypatch.setenv("EXPERTALIGN_TEST_KEY", secret)
    server.default = _sentence_feed(2)
    server.queue(error(429))
    with caplog.at_level(logging.DEBUG):
        backend = _backend(server)
        records = generate_pool(backend, "dog-n", None, pool_size=4, per_call=2)
    authorizations = [{k.lower(): v for k, v in h.items()}["authorization"] for h in server.headers]
    assert set(authorizations) == {f"Bearer {secret}"}
    assert secret not in caplog.text and secret not in json.dumps(records)
    assert secret not in repr(backend)
    monkeypatch.delenv("EXPERTALIGN_TEST_KEY")
    _backend(server).complete("prompt")
    assert server.headers[-1].get("Authorization", server.headers[-1].get("authorization")) == (
        "Bearer EMPTY")


# ------------------------------------------------------------------ pools, cache, resume


class ScriptedBackend:
    """A generating backend returning canned replies in order, failing after ``fail_after`` calls."""

    generator = "scripted"

    def __init__(self, replies, fail_after: int | None = None):
        self.replies = iter(replies)
        self.fail_after = fail_after
        self.calls = 0
        self.prompts: list[str] = []

    def complete_many(self, prompts):
        for index, prompt in enumerate(prompts):
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise GenerationError("scripted interruption")
            self.calls += 1
            self.prompts.append(prompt)
            yield index, next(self.replies)


def _chunks(size: int):
    return [numbered(DOG_SENTENCES[i:i + size]) for i in range(0, len(DOG_SENTENCES), size)]


def test_interrupted_generation_resumes_from_the_cache(tmp_path):
    cache = tmp_path / "cache" / "dog-n.jsonl"
    first = ScriptedBackend(_chunks(4), fail_after=2)
    with pytest.raises(GenerationError, match="scripted interruption"):
        generate_pool(first, "dog-n", None, pool_size=16, per_call=4, cache_path=cache)
    cached = read_cache(cache, "dog-n")
    assert [r["sentence"] for r in cached] == DOG_SENTENCES[:8]
    second = ScriptedBackend(_chunks(4)[2:])
    records = generate_pool(second, "dog-n", None, pool_size=16, per_call=4, cache_path=cache)
    assert first.calls + second.calls == 4  # the two cached calls were not repeated
    assert all("short story" in prompt for prompt in second.prompts)
    assert [r["sentence"] for r in records] == DOG_SENTENCES[:16]
    assert [r["prompt"] for r in records] == ["fact"] * 8 + ["story"] * 8
    assert read_cache(cache, "dog-n") == records


def test_a_torn_cache_line_is_cut_off(tmp_path, caplog):
    cache = tmp_path / "dog-n.jsonl"
    generate_pool(ScriptedBackend(_chunks(2)), "dog-n", None, pool_size=4, per_call=2, cache_path=cache)
    with open(cache, "a") as handle:
        handle.write('{"concept": "dog-n", "sent')
    with caplog.at_level(logging.WARNING, logger="expertalign.generation"):
        assert len(read_cache(cache, "dog-n")) == 4
    assert "torn last line" in caplog.text and cache.read_text().endswith("\n")
    with pytest.raises(GenerationError, match="in the cache of cat-n"):
        read_cache(cache, "cat-n")


def test_odd_pool_sizes_give_the_extra_sentence_to_fact():
    records = generate_pool(ScriptedBackend(_chunks(3)), "dog-n", None, pool_size=5, per_call=3)
    assert [r["prompt"] for r in records] == ["fact"] * 3 + ["story"] * 2


def test_filtered_out_replies_end_at_the_call_cap_with_a_clear_error(caplog):
    backend = ScriptedBackend(itertools.repeat(numbered(["A cat sat.", "Birds fly south."])))
    with pytest.raises(GenerationError, match=r"dog-n: gave up after 20 calls with \{'fact': 0, "
                                              r"'story': 0\}.*'no_concept': 40"):
        generate_pool(backend, "dog-n", None, pool_size=4, per_call=2)
    assert backend.calls == 20


# ------------------------------------------------------------------ reading backends


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = ["concept,prompt,sentence"] + [f'{c},{p},"{s}"' for c, p, s in rows]
    path.write_text("\n".join(lines) + "\n")


def test_file_backend_takes_the_first_sentences_balanced_across_prompts(tmp_path, caplog):
    path = tmp_path / "mine.csv"
    rows = [("dog-n", "story" if i % 3 else "fact", s) for i, s in enumerate(DOG_SENTENCES[:9])]
    rows.append(("cat-n", "fact", "A cat sat."))
    _write_csv(path, rows)
    pool = generate_pool(FileBackend(path), "dog-n", "a canine", pool_size=6)
    assert [r["sentence"] for r in pool] == [DOG_SENTENCES[i] for i in (0, 1, 2, 3, 4, 6)]
    assert sorted(r["prompt"] for r in pool) == ["fact"] * 3 + ["story"] * 3
    assert {r["definition"] for r in pool} == {"a canine"}
    assert {r["generator"] for r in pool} == {"file:mine.csv"}
    with caplog.at_level(logging.WARNING, logger="expertalign.generation"):
        assert len(generate_pool(FileBackend(path), "dog-n", None, pool_size=20)) == 9
    assert "dog-n: 9 of 20 sentences" in caplog.text


def test_file_backend_reads_jsonl_without_prompts(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({"concept": "dog-n", "sentence": s}) + "\n"
                            for s in DOG_SENTENCES[:5]))
    pool = generate_pool(FileBackend(path), "dog-n", None, pool_size=3)
    assert [r["sentence"] for r in pool] == DOG_SENTENCES[:3]
    assert {r["prompt"] for r in pool} == {"other"}


def test_file_backend_errors_name_the_file_column_and_concept(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("concept,text\ndog-n,The dog ran.\n")
    with pytest.raises(GenerationError, match=r"bad.csv: missing column 'sentence'"):
        FileBackend(path)
    good = tmp_path / "good.csv"
    _write_csv(good, [("dog-n", "fact", "The dog ran.")])
    with pytest.raises(GenerationError, match=r"concept cat-n has no sentences in .*good.csv"):
        generate_pool(FileBackend(good), "cat-n", None, pool_size=3)


def test_builtin_backend_needs_full_records(tmp_path):
    record = {"concept": "dog-n", "word": "dog", "pos": "n", "definition": "a canine",
              "prompt": "fact", "sentence": "The dog ran.", "generator": "author-model"}
    path = tmp_path / "builtin.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(record | {"prompt": "story",
                                                                     "sentence": "A dog slept."}))
    pool = generate_pool(BuiltinBackend(path), "dog-n", None, pool_size=2)
    assert pool == [record, record | {"prompt": "story", "sentence": "A dog slept."}]
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({k: v for k, v in record.items() if k != "generator"}) + "\n")
    with pytest.raises(GenerationError, match=r"broken.jsonl: missing column 'generator'"):
        BuiltinBackend(broken)


SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "sentences" / "builtin.jsonl"


@pytest.mark.skipif(not SHIPPED.is_file() or SHIPPED.stat().st_size == 0,
                    reason="built-in sentences not written yet")
def test_shipped_builtin_sentences_load_as_balanced_pools():
    pool = generate_pool(BuiltinBackend(SHIPPED), "dog-n", None, pool_size=40)
    assert len(pool) == 40
    assert sorted(r["prompt"] for r in pool) == ["fact"] * 20 + ["story"] * 20


# ------------------------------------------------------------------ HF backend, tiny local model


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    """A random 1-layer GPT-2 over a 17-word vocabulary with a chat template, saved locally."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "<eos>", "the", "a", "dog", "dogs", "barked", "ran", "slept",
             "happy", "big", "park", "in", ".", "1.", "2."]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]",
                                        pad_token="[PAD]", eos_token="<eos>")
    tokenizer.add_tokens(["\n"])
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}the {% endif %}"
    )
    folder = tmp_path_factory.mktemp("tiny-chat")
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=16, n_layer=1,
                        n_head=2, bos_token_id=None, eos_token_id=None, pad_token_id=1)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_hf_backend_generates_filtered_records(tiny_chat_model, tmp_path):
    import torch

    from expertalign.generation import HFBackend

    backend = HFBackend(tiny_chat_model, temperature=1.0, max_new_tokens=40, dtype="float32",
                        device="cpu", batch_size=2)
    torch.manual_seed(0)
    replies = dict(backend.complete_many(["dog facts", "a longer prompt about a dog"]))
    assert sorted(replies) == [0, 1] and all(isinstance(text, str) for text in replies.values())
    torch.manual_seed(0)
    records = generate_pool(backend, "dog-n", "a canine", pool_size=4, per_call=2,
                            cache_path=tmp_path / "dog-n.jsonl")
    assert len(records) == 4 and {r["generator"] for r in records} == {f"hf:{tiny_chat_model.name}"}
    sentences = [r["sentence"] for r in records]
    assert all(" dog" in f" {s}" or " dogs" in f" {s}" for s in sentences)
    assert len({s.lower() for s in sentences}) == 4
    cached = read_cache(tmp_path / "dog-n.jsonl", "dog-n")  # in arrival order
    assert sorted(cached, key=json.dumps) == sorted(records, key=json.dumps)
