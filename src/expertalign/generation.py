"""Positive sentence pools: the paper's generation prompts, reply parsing, filtering, backends.

A concept's pool is half "fact" and half "story" sentences (paper App. A). Generating backends
(``OpenAIBackend``: any OpenAI-compatible chat endpoint; ``HFBackend``: a local instruct model) are
called repeatedly, ``per_call`` sentences a call, until each half is full; every accepted batch is
appended to a per-concept JSONL cache at once, so an interrupted job resumes where it stopped.
Reading backends (``FileBackend``: a user's JSONL/CSV; ``BuiltinBackend``: the sentences shipped in
resources/) return the first ``pool_size`` sentences of the concept.

A pool record is a dict with keys concept, word, pos, definition, prompt (fact|story|other),
sentence, generator.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import json
import logging
import math
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from tqdm import tqdm

from expertalign.concepts import POS_NAMES, parse_concept
from expertalign.wordnet import mentions_concept

log = logging.getLogger(__name__)

PROMPT_KINDS = ("fact", "story")
RECORD_KEYS = ("concept", "word", "pos", "definition", "prompt", "sentence", "generator")

#: The paper's App. A prompts; {n} sentences, {word}, {article} {pos_name} and the definition.
PROMPTS = {
    "fact": (
        "Generate a set of {n} sentences, including as many facts as possible, about the concept "
        "{word} as {article} {pos_name}{definition_clause}. Refer to the concept only as {word} "
        "without including specific classes, types, or names of {word}. Make sure the sentences "
        "are diverse and do not repeat."
    ),
    "story": (
        "Generate a set of {n} sentences, where each sentence is a short story about the concept "
        "{word} as {article} {pos_name}{definition_clause}. Refer to the concept only as {word} "
        "without including specific classes, types, or names of {word}. Make sure the sentences "
        "are diverse and do not repeat."
    ),
}
DEFINITION_CLAUSE = " and defined as {definition}"

TOKEN_JACCARD_LIMIT = 0.8  # near-duplicate when the word-token sets overlap this much
DIFFLIB_RATIO_LIMIT = 0.9  # ... or when difflib's character ratio reaches this
CALL_CAP_FACTOR = 10  # give up after this many times the calls a pool needs

_ITEM_MARKER = re.compile(r"^(?:\(\d+\)|\d+[.):]|[-*\u2022\u2013])\s+")
_PREAMBLE = re.compile(r"^(?:sure|certainly|of course|okay|here (?:are|is))\b", re.IGNORECASE)
_QUOTES = "\"'\u201c\u201d\u2018\u2019`"
_WORD_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


class GenerationError(RuntimeError):
    """Sentences could not be generated or read."""


# --------------------------------------------------------------------------------------------
# prompts, parsing, filtering, statistics
# --------------------------------------------------------------------------------------------


def build_prompt(kind: str, word: str, pos: str, definition: str | None, n: int = 10) -> str:
    """The App. A prompt ``kind`` (fact|story) for ``word`` with POS n|v|j, asking for n sentences.

    Without a definition the "and defined as ..." clause is left out.
    """
    if kind not in PROMPTS:
        raise ValueError(f"unknown prompt kind {kind!r}; expected one of {list(PROMPTS)}")
    if pos not in POS_NAMES:
        raise ValueError(f"bad POS {pos!r}; expected one of {list(POS_NAMES)}")
    pos_name = POS_NAMES[pos]
    clause = DEFINITION_CLAUSE.format(definition=definition.strip()) if definition else ""
    return PROMPTS[kind].format(
        n=n,
        word=word.replace("_", " "),
        article="an" if pos_name[0] in "aeiou" else "a",
        pos_name=pos_name,
        definition_clause=clause,
    )


def _strip_quotes(text: str) -> str:
    """Remove wrapping quotes and markdown bold; keep a final possessive apostrophe (dogs')."""
    text = text.strip().strip("*").strip()
    opened = text[:1] in _QUOTES
    text = text.lstrip(_QUOTES)
    while text and text[-1] in _QUOTES and (opened or text[-2:-1] in (".", "!", "?")):
        text = text[:-1]
    return text.strip()


def parse_reply(text: str) -> list[str]:
    """Sentences of a generator's reply, in order.

    Numbered (``1.``, ``1)``, ``(1)``) or bulleted (``-``, ``*``, ``•``) items, or one sentence per
    line; when any line is a list item, unmarked lines (preambles, closing remarks) are ignored;
    otherwise lines ending in ':' or opening like "Here are ..." are. Stray quotes are stripped.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    items = [_ITEM_MARKER.sub("", line, count=1) for line in lines if _ITEM_MARKER.match(line)]
    if not items:
        items = [line for line in lines if not line.endswith(":") and not _PREAMBLE.match(line)]
    sentences = (_strip_quotes(item) for item in items)
    return [sentence for sentence in sentences if sentence]


def tokenize_words(sentence: str) -> list[str]:
    """Lowercase word tokens: runs of letters/digits, keeping inner apostrophes (dog's, don't)."""
    return _WORD_TOKEN.findall(sentence.lower().replace("\u2019", "'"))


def type_token_ratio(sentences: Sequence[str]) -> float:
    """Distinct lowercase word tokens / all word tokens over a pool (paper: 0.34 for GPT-4)."""
    tokens = [token for sentence in sentences for token in tokenize_words(sentence)]
    if not tokens:
        raise ValueError("type_token_ratio of a pool without word tokens")
    return len(set(tokens)) / len(tokens)


def _normalized(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def _is_near_duplicate(sentence: str, tokens: set[str], others: list[tuple[str, set[str]]]) -> bool:
    """Token Jaccard >= 0.8 or difflib ratio >= 0.9 against any (normalized text, tokens) of others."""
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(sentence)  # difflib caches its analysis of the second sequence
    for other, other_tokens in others:
        union = tokens | other_tokens
        if union and len(tokens & other_tokens) / len(union) >= TOKEN_JACCARD_LIMIT:
            return True
        matcher.set_seq1(other)
        if (
            matcher.real_quick_ratio() >= DIFFLIB_RATIO_LIMIT
            and matcher.quick_ratio() >= DIFFLIB_RATIO_LIMIT
            and matcher.ratio() >= DIFFLIB_RATIO_LIMIT
        ):
            return True
    return False


def filter_sentences(
    candidates: Sequence[str], word: str, pos: str, existing: Sequence[str] = ()
) -> tuple[list[str], dict[str, int]]:
    """Keep the candidates fit for a pool of concept (word, pos), in order.

    Dropped, by reason (checked in this order): ``empty``; ``no_concept`` (no whole-word mention of
    the word or an inflection); ``duplicate`` (equal to a kept or existing sentence ignoring case
    and whitespace); ``near_duplicate`` (word-token Jaccard >= 0.8 or difflib ratio >= 0.9 against
    one). Returns (kept, {reason: number dropped}) with every reason present.
    """
    dropped = dict.fromkeys(("empty", "no_concept", "duplicate", "near_duplicate"), 0)
    seen = {_normalized(sentence) for sentence in existing}
    others = [(_normalized(s), set(tokenize_words(s))) for s in existing]
    kept = []
    for candidate in candidates:
        sentence = candidate.strip()
        key = _normalized(sentence)
        tokens = set(tokenize_words(sentence))
        if not sentence:
            reason = "empty"
        elif not mentions_concept(sentence, word, pos):
            reason = "no_concept"
        elif key in seen:
            reason = "duplicate"
        elif _is_near_duplicate(key, tokens, others):
            reason = "near_duplicate"
        else:
            kept.append(sentence)
            seen.add(key)
            others.append((key, tokens))
            continue
        dropped[reason] += 1
    return kept, dropped


# --------------------------------------------------------------------------------------------
# generating backends
# --------------------------------------------------------------------------------------------


class GeneratingBackend(Protocol):
    """A chat model: ``complete_many`` yields (prompt index, reply text) as calls finish."""

    generator: str

    def complete_many(self, prompts: Sequence[str]) -> Iterator[tuple[int, str]]: ...


class MalformedReply(ValueError):
    """A chat completion without usable text (no choices, no content, unparseable body)."""


def _reply_text(response) -> str:
    """The text of a chat completion's first choice; MalformedReply when there is none."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("reply has no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise MalformedReply("reply has no text content")
    return content


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, TGI) via the openai client.

    The API key is read from the environment variable ``api_key_env`` ("EMPTY" when unset, as
    local servers expect) and is never logged or recorded. Each call is retried up to
    ``max_retries`` times with exponential backoff and jitter on timeouts, connection errors, 429,
    5xx and malformed replies; other errors (400, 401, 404) fail at once. At most
    ``max_concurrency`` calls are in flight.
    """

    def __init__(
        self,
        base_url: str | None,
        model: str,
        temperature: float = 1.0,
        max_concurrency: int = 8,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        import openai

        if not model:
            raise ValueError("OpenAIBackend needs a model name (sentences.openai.model)")
        if max_concurrency < 1 or max_retries < 0:
            raise ValueError("max_concurrency must be >= 1 and max_retries >= 0")
        self._openai = openai
        self.model = model
        self.temperature = temperature
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.generator = f"openai:{model}"
        self._random = random.Random()
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "EMPTY",
            timeout=timeout_s,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def _retry_reason(self, error: Exception) -> str | None:
        """Why ``error`` is worth a retry (None when it is not)."""
        openai = self._openai
        if isinstance(error, MalformedReply):
            return f"malformed reply ({error})"
        if isinstance(error, openai.APITimeoutError):
            return "timeout"
        if isinstance(error, openai.APIConnectionError):
            return "connection error"
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            return f"HTTP {status}" if status == 429 or status >= 500 else None
        if isinstance(error, (openai.APIResponseValidationError, json.JSONDecodeError)):
            return "unparseable reply"
        return None

    def _delay_s(self, attempt: int, error: Exception) -> float:
        """Backoff before retry ``attempt`` (0-based): a Retry-After header, else 2^attempt jittered."""
        response = getattr(error, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header is not None:
            try:
                return min(float(header), self.max_backoff_s)
            except ValueError:
                pass
        base = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return base * self._random.uniform(0.5, 1.5)

    def complete(self, prompt: str) -> str:
        """One chat completion for a single user message, with retries; GenerationError on giving up."""
        openai = self._openai
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": "user", "content": prompt}],
                    temperature=self.temperature,
                )
                return _reply_text(response)
            except (openai.OpenAIError, MalformedReply, json.JSONDecodeError) as error:
                reason = self._retry_reason(error)
                if reason is None:
                    raise GenerationError(
                        f"{self.generator}: request failed and is not retried: "
                        f"{type(error).__name__}: {error}"
                    ) from error
                if attempt == self.max_retries:
                    raise GenerationError(
                        f"{self.generator}: gave up after {attempt + 1} attempts; last: {reason}"
                    ) from error
                delay = self._delay_s(attempt, error)
                log.warning(
                    "%s: %s; retry %d/%d in %.2f s",
                    self.generator, reason, attempt + 1, self.max_retries, delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def complete_many(self, prompts: Sequence[str]) -> Iterator[tuple[int, str]]:
        """Run ``prompts`` with at most max_concurrency in flight; yield (index, text) as each ends.

        Every call finishes before a failure is raised, so the caller can keep what succeeded.
        """
        failures: list[GenerationError] = []
        pool = concurrent.futures.ThreadPoolExecutor(self.max_concurrency)
        try:
            futures = {pool.submit(self.complete, prompt): i for i, prompt in enumerate(prompts)}
            for future in concurrent.futures.as_completed(futures):
                try:
                    text = future.result()
                except GenerationError as error:
                    failures.append(error)
                    continue
                yield futures[future], text
        finally:  # on an early exit (the caller failed or was interrupted) drop queued calls
            pool.shutdown(wait=True, cancel_futures=True)
        if failures:
            raise GenerationError(f"{len(failures)} of {len(prompts)} calls failed: {failures[0]}")


class HFBackend:
    """A local Hugging Face chat/instruct model (transformers, its chat template), sampling.

    Prompts are generated ``batch_size`` at a time with left padding.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        temperature: float = 1.0,
        max_new_tokens: int = 600,
        dtype: str = "bfloat16",
        device: str = "auto",
        batch_size: int = 8,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"bad dtype {dtype!r}; expected float32, bfloat16 or float16")
        self._torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.max_concurrency = batch_size
        local = Path(model)
        self.generator = f"hf:{local.name if local.is_dir() else model}"
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if not self.tokenizer.chat_template:
            raise GenerationError(f"HF model {model}: its tokenizer has no chat template")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype))
        self.model.to(self.device).eval()

    def _generate(self, prompts: Sequence[str]) -> list[str]:
        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        inputs = self.tokenizer.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(self.device)
        if self.temperature > 0:
            sampling = {"do_sample": True, "temperature": self.temperature}
        else:
            sampling = {"do_sample": False}
        with self._torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1]:]  # [batch, generated]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def complete_many(self, prompts: Sequence[str]) -> Iterator[tuple[int, str]]:
        """Generate a reply per prompt, batch_size at a time; yield (index, text)."""
        for start in range(0, len(prompts), self.max_concurrency):
            batch = prompts[start:start + self.max_concurrency]
            for offset, text in enumerate(self._generate(batch)):
                yield start + offset, text


# --------------------------------------------------------------------------------------------
# reading backends
# --------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A table cell as text; None for a missing cell (None, NaN, empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def _read_jsonl_table(path: Path) -> pd.DataFrame:
    """A JSONL file as a table indexed by file line (blank lines skipped); a line that is not a JSON
    object raises GenerationError naming the file and line."""
    records, lines = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise GenerationError(f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(record, dict):
                raise GenerationError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
            lines.append(number)
    return pd.DataFrame(records, index=pd.Index(lines, name="line"))


class FileBackend:
    """A user's sentences: JSONL or CSV with columns concept, sentence[, prompt][, definition].

    Every row is checked when the file is read; a bad row raises GenerationError naming the file and
    line: an invalid JSON line, a malformed concept id, an empty sentence, or a sentence repeated
    within a concept. A sentence listed under two concepts is logged as a warning.
    """

    required_columns: tuple[str, ...] = ("concept", "sentence")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.generator = f"file:{self.path.name}"
        self.table = self._read()

    def _read(self) -> pd.DataFrame:
        suffix = self.path.suffix.lower()
        if suffix in (".jsonl", ".json", ".ndjson"):
            table = _read_jsonl_table(self.path)
        elif suffix in (".csv", ".tsv"):
            table = pd.read_csv(self.path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False)
            table.index = pd.Index(table.index + 2, name="line")  # the header is line 1 (one line per row)
        else:
            raise GenerationError(f"{self.path}: sentence files must be .jsonl or .csv")
        if table.empty:
            raise GenerationError(f"{self.path}: no sentences")
        for column in self.required_columns:
            if column not in table.columns:
                raise GenerationError(f"{self.path}: missing column {column!r}")
        self._check_rows(table)
        return table

    def _check_rows(self, table: pd.DataFrame) -> None:
        """Raise GenerationError at the first bad row (file:line); warn about cross-concept repeats."""
        first_line: dict[tuple[str, str], int] = {}
        concepts_of: dict[str, set[str]] = {}
        for line, concept, sentence in zip(table.index, table["concept"], table["sentence"]):
            where = f"{self.path}:{line}"
            try:
                parse_concept(concept)
            except ValueError as error:
                raise GenerationError(f"{where}: {error}") from None
            text = _text(sentence)
            if text is None:
                raise GenerationError(f"{where}: empty sentence for concept {concept}")
            first = first_line.setdefault((concept, text), line)
            if first != line:
                raise GenerationError(f"{where}: sentence repeats line {first} for concept {concept}: {text!r}")
            concepts_of.setdefault(text, set()).add(concept)
        shared = {text: sorted(owners) for text, owners in concepts_of.items() if len(owners) > 1}
        if shared:
            text, owners = next(iter(shared.items()))
            log.warning("%s: %d sentence(s) listed under more than one concept, e.g. %r under %s",
                        self.path, len(shared), text, ", ".join(owners))

    def records(self, concept: str, definition: str | None = None) -> list[dict]:
        """Every sentence of ``concept`` in file order, as pool records."""
        rows = self.table[self.table["concept"] == concept]
        if rows.empty:
            raise GenerationError(f"concept {concept} has no sentences in {self.path}")
        word, pos = parse_concept(concept)
        return [
            {
                "concept": concept,
                "word": word,
                "pos": pos,
                "definition": _text(row.get("definition")) or definition,
                "prompt": row.get("prompt") if row.get("prompt") in PROMPT_KINDS else "other",
                "sentence": str(row["sentence"]).strip(),
                "generator": _text(row.get("generator")) or self.generator,
            }
            for row in rows.to_dict("records")
        ]


class BuiltinBackend(FileBackend):
    """The sentence sets shipped in resources/sentences/builtin.jsonl (full pool records)."""

    required_columns = RECORD_KEYS

    def __init__(self, path: str | os.PathLike = "resources/sentences/builtin.jsonl") -> None:
        super().__init__(path)


def _balanced_first(records: list[dict], size: int) -> list[dict]:
    """The first ``size`` records, alternating fact, story, other (file order within a kind)."""
    by_prompt: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_prompt.setdefault(record["prompt"], []).append(index)
    order = [kind for kind in PROMPT_KINDS if kind in by_prompt]
    queues = [by_prompt[kind] for kind in order + sorted(set(by_prompt) - set(order))]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < size and any(depth < len(queue) for queue in queues):
        chosen += [queue[depth] for queue in queues if depth < len(queue)][: size - len(chosen)]
        depth += 1
    return [records[index] for index in sorted(chosen)]


def _read_pool(backend: FileBackend, concept: str, definition: str | None,
               pool_size: int) -> list[dict]:
    """The first pool_size records of ``concept`` from a reading backend, alternating prompts."""
    pool = _balanced_first(backend.records(concept, definition), pool_size)
    counts = Counter(record["prompt"] for record in pool)
    if len(pool) < pool_size:
        log.warning("%s: %d of %d sentences in %s", concept, len(pool), pool_size, backend.path)
    log.info("%s: %d sentences from %s (%s)", concept, len(pool), backend.path, dict(counts))
    return pool


# --------------------------------------------------------------------------------------------
# the pool of one concept
# --------------------------------------------------------------------------------------------


def read_cache(cache_path: str | os.PathLike, concept: str) -> list[dict]:
    """Records of a concept's generation cache (JSONL); a torn last line is cut off with a warning."""
    path = Path(cache_path)
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        log.warning("%s: dropping a torn last line (interrupted write)", path)
        data = data[: data.rfind(b"\n") + 1]
        with open(path, "r+b") as handle:
            handle.truncate(len(data))
    records = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise GenerationError(f"{path}:{number}: not JSON ({error})") from None
        if record.get("concept") != concept or record.get("prompt") not in PROMPT_KINDS:
            raise GenerationError(
                f"{path}:{number}: a record of {record.get('concept')!r}/{record.get('prompt')!r} "
                f"in the cache of {concept}"
            )
        records.append(record)
    return records


def append_cache(cache_path: str | os.PathLike, records: Sequence[dict]) -> None:
    """Append records to a JSONL cache and fsync, so that they survive an interrupted job."""
    path = Path(cache_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
        handle.flush()
        os.fsync(handle.fileno())


class _PoolInProgress:
    """The fact and story halves of one concept's pool while they are being generated."""

    def __init__(self, concept: str, definition: str | None, pool_size: int, generator: str,
                 cached: Sequence[dict]) -> None:
        self.concept, self.definition, self.generator = concept, definition, generator
        self.word, self.pos = parse_concept(concept)
        self.targets = {"fact": math.ceil(pool_size / 2), "story": pool_size // 2}
        self.halves = {kind: [r for r in cached if r["prompt"] == kind][: self.targets[kind]]
                       for kind in PROMPT_KINDS}
        self.dropped: Counter[str] = Counter()

    def size(self) -> dict[str, int]:
        return {kind: len(records) for kind, records in self.halves.items()}

    def pending_calls(self, per_call: int) -> list[tuple[str, str]]:
        """(kind, prompt) of the calls still needed to fill each half, assuming full replies."""
        return [
            (kind, build_prompt(kind, self.word, self.pos, self.definition, per_call))
            for kind in PROMPT_KINDS
            for _ in range(math.ceil((self.targets[kind] - len(self.halves[kind])) / per_call))
        ]

    def accept(self, kind: str, reply: str) -> list[dict]:
        """Parse and filter a reply; add and return the records that fit into half ``kind``."""
        existing = [record["sentence"] for half in self.halves.values() for record in half]
        kept, reasons = filter_sentences(parse_reply(reply), self.word, self.pos, existing)
        self.dropped.update(reasons)
        room = self.targets[kind] - len(self.halves[kind])
        self.dropped["surplus"] += max(0, len(kept) - room)
        records = [
            dict(zip(RECORD_KEYS, (self.concept, self.word, self.pos, self.definition, kind,
                                   sentence, self.generator)))
            for sentence in kept[:room]
        ]
        self.halves[kind] += records
        return records


def generate_pool(
    backend: GeneratingBackend | FileBackend,
    concept: str,
    definition: str | None,
    pool_size: int,
    per_call: int = 10,
    cache_path: str | os.PathLike | None = None,
) -> list[dict]:
    """The positive pool of ``concept``: ``pool_size`` records, fact ones first, then story ones.

    A generating backend is called (``per_call`` sentences asked per call) until ceil(pool_size/2)
    fact and floor(pool_size/2) story sentences pass ``filter_sentences``; each accepted batch is
    appended to ``cache_path`` at once, and records already there are reused, so a rerun resumes.
    More than 10x the calls a pool needs ends in GenerationError. A reading backend returns the
    concept's first pool_size sentences, alternating prompts (fewer is allowed, with a warning).
    """
    if pool_size < 1 or per_call < 1:
        raise ValueError(f"pool_size ({pool_size}) and per_call ({per_call}) must be >= 1")
    if isinstance(backend, FileBackend):
        return _read_pool(backend, concept, definition, pool_size)
    cached = read_cache(cache_path, concept) if cache_path else []
    pool = _PoolInProgress(concept, definition, pool_size, backend.generator, cached)
    max_calls = CALL_CAP_FACTOR * math.ceil(pool_size / per_call)
    calls = 0
    with tqdm(total=pool_size, initial=sum(pool.size().values()), desc=concept, disable=None,
              leave=False) as bar:
        while wave := pool.pending_calls(per_call):
            if calls >= max_calls:
                raise GenerationError(
                    f"{concept}: gave up after {calls} calls with {pool.size()} of {pool.targets} "
                    f"sentences; dropped {dict(pool.dropped)}"
                )
            wave = wave[: max_calls - calls]
            calls += len(wave)
            for index, reply in backend.complete_many([prompt for _, prompt in wave]):
                records = pool.accept(wave[index][0], reply)
                if records and cache_path:
                    append_cache(cache_path, records)
                bar.update(len(records))
    log.info("%s: %d sentences after %d calls (%d from the cache); dropped %s", concept, pool_size,
             calls, len(cached), {reason: n for reason, n in pool.dropped.items() if n})
    return pool.halves["fact"] + pool.halves["story"]


BACKENDS = {"builtin": BuiltinBackend, "file": FileBackend, "openai": OpenAIBackend, "hf": HFBackend}


def make_backend(name: str, settings: dict) -> GeneratingBackend | FileBackend:
    """The sentence backend ``name`` (builtin, file, openai, hf) built from its config block
    (``sentences.<name>`` or ``pilot.sources.<source>.<name>``, paths already resolved)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sentence backend {name!r}; expected one of {sorted(BACKENDS)}")
    return BACKENDS[name](**settings)


def pool_table(pools: dict[str, list[dict]], backend: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sentence pool table (sentence_id, concept, prompt, sentence) and a diversity table.

    Diversity: one row per concept with its backend, pool size and type/token ratio (the paper
    quotes 0.34 for GPT-4 pools). An empty pool is an error naming the concept.
    """
    empty = [c for c, records in pools.items() if not records]
    if empty:
        raise ValueError(f"no sentences for concept(s) {', '.join(empty)}")
    rows = [
        dict(concept=concept, prompt=r.get("prompt") or "other", sentence=r["sentence"])
        for concept, records in pools.items()
        for r in records
    ]
    pool = pd.DataFrame(rows)
    pool.insert(0, "sentence_id", np.arange(len(pool)))
    diversity = pd.DataFrame(
        dict(
            concept=concept,
            backend=backend,
            n_sentences=len(records),
            type_token_ratio=type_token_ratio([r["sentence"] for r in records]),
        )
        for concept, records in pools.items()
    )
    return pool, diversity
