"""Concept ids, the MEN similarity data and the hierarchy domains.

A concept id is ``word-POS`` with POS one of ``n`` (noun), ``v`` (verb), ``j`` (adjective), the
form of MEN's lemma files (``dog-n``, ``swim-v``, ``tall-j``); the same word under two POS is two
concepts.

MEN (Bruni, Tran & Baroni 2014) comes from a local folder (config ``concepts.men.dir``, overridden
by the environment variable ``EXPERTALIGN_MEN_DIR``) or is downloaded from a list of archive URLs
into a cache folder. Every file is checked against its published sha1 whichever way it came.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from expertalign.workflow import atomic_path

log = logging.getLogger(__name__)

POS_TAGS = ("n", "v", "j")
POS_NAMES = {"n": "noun", "v": "verb", "j": "adjective"}

#: split -> (file name in the MEN distribution, sha1 of its bytes without any header line)
MEN_FILES: dict[str, tuple[str, str]] = {
    "dev": ("MEN_dataset_lemma_form.dev", "55d2c9675f84dc661861172fc89db437cab2ed92"),
    "test": ("MEN_dataset_lemma_form.test", "c003c9fddfe0ce1d38432cdb13863599d7a2d37d"),
    "full": ("MEN_dataset_lemma_form_full", "e32e0a0fa09ccf95aa898bd42011e84419f7fafb"),
}
MEN_DIR_ENV = "EXPERTALIGN_MEN_DIR"
MEN_SPEC = "men+hierarchy"

_CONCEPT_RE = re.compile(r"^(?P<word>\S*[^\s-])-(?P<pos>[nvj])$")
_HEADER_RE = re.compile(rb"^\s*word1\s+word2\s+score\s*\r?\n")
_HIERARCHY_COLUMNS = ["domain", "role", "concept"]
_DOWNLOAD_TIMEOUT_S = 60


class MENError(ValueError):
    """MEN could not be obtained or a file failed its sha1 check."""


class ConceptError(ValueError):
    """A concept id or a concept/hierarchy file is malformed."""


# --------------------------------------------------------------------------------------------
# concept ids
# --------------------------------------------------------------------------------------------


def parse_concept(concept_id: str) -> tuple[str, str]:
    """Split a concept id ``word-POS`` into ``(word, pos)``; POS must be n, v or j.

    Raises ConceptError naming the id when it is not of that form.
    """
    match = _CONCEPT_RE.match(concept_id) if isinstance(concept_id, str) else None
    if match is None:
        raise ConceptError(
            f"bad concept id {concept_id!r}: expected word-POS with POS in n, v, j (e.g. dog-n)"
        )
    return match["word"], match["pos"]


# --------------------------------------------------------------------------------------------
# MEN
# --------------------------------------------------------------------------------------------


def men_dir(config_dir: str | os.PathLike | None) -> Path | None:
    """The local MEN folder: env EXPERTALIGN_MEN_DIR, else ``config_dir``; None means download."""
    chosen = os.environ.get(MEN_DIR_ENV) or config_dir
    return Path(chosen) if chosen else None


def _strip_header(data: bytes) -> bytes:
    """Remove a leading ``word1 word2 score`` header line (added by some mirrors)."""
    return _HEADER_RE.sub(b"", data, count=1)


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def check_sha1(
    path: Path, data: bytes, expected_sha1: str, label: str, error: type[ValueError] = MENError
) -> bytes:
    """``data`` (read from ``path``) if its sha1 is ``expected_sha1``; else raises ``error``."""
    actual = _sha1(data)
    if actual != expected_sha1:
        raise error(
            f"{label} file {path} failed its sha1 check: expected {expected_sha1}, got {actual}"
        )
    return data


def _verified_men_bytes(path: Path, expected_sha1: str) -> bytes:
    """The bytes of one MEN file without header, after checking their sha1; MENError otherwise."""
    if not path.is_file():
        raise MENError(f"MEN file missing: {path}")
    return check_sha1(path, _strip_header(path.read_bytes()), expected_sha1, "MEN")


def _men_split(split: str) -> tuple[str, str]:
    if split not in MEN_FILES:
        raise MENError(f"unknown MEN split {split!r}; expected one of {sorted(MEN_FILES)}")
    return MEN_FILES[split]


def load_men(directory: str | os.PathLike, split: str) -> pd.DataFrame:
    """MEN pairs of one split (dev 2000, test 1000, full 3000 pairs), sha1-checked.

    Returns a DataFrame with columns word1, word2 (concept ids ``word-POS``) and score (float,
    0-50), in file order.
    """
    name, sha1 = _men_split(split)
    path = Path(directory) / name
    data = _verified_men_bytes(path, sha1)
    rows = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise MENError(f"{path}:{number}: expected 'word1 word2 score', got {line!r}")
        parse_concept(fields[0])
        parse_concept(fields[1])
        rows.append((fields[0], fields[1], float(fields[2])))
    return pd.DataFrame(rows, columns=["word1", "word2", "score"])


def _all_files_valid(
    directory: Path, files: Mapping[str, str], read: Callable[[Path, str], bytes],
    error: type[ValueError],
) -> bool:
    try:
        for name, sha1 in files.items():
            read(directory / name, sha1)
    except error:
        return False
    return True


def _download(url: str, destination: Path) -> None:
    """Stream ``url`` into ``destination`` (urllib; raises URLError/OSError on failure)."""
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
        with open(destination, "wb") as handle:
            shutil.copyfileobj(response, handle)


def _unpack(archive: Path, destination: Path, error: type[ValueError] = MENError) -> None:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive into ``destination``; ``error`` otherwise."""
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            if not hasattr(tarfile, "data_filter"):
                raise error(f"{archive}: this Python's tarfile cannot extract safely (< 3.10.12)")
            tar.extractall(destination, filter="data")
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                target = (destination / member).resolve()
                if not target.is_relative_to(destination.resolve()):
                    raise error(f"{archive}: member {member!r} escapes the archive folder")
            zipped.extractall(destination)
    else:
        raise error(f"{archive} is neither a tar nor a zip archive")


def _install_files(
    unpacked: Path, cache_dir: Path, source: str, files: Mapping[str, str],
    read: Callable[[Path, str], bytes], error: type[ValueError],
) -> None:
    """Find each file of ``files`` under ``unpacked``, read and sha1-check it, copy to cache_dir."""
    for name, sha1 in files.items():
        found = sorted(p for p in unpacked.rglob(name) if p.is_file())
        if not found:
            raise error(f"{source}: archive has no file named {name}")
        data = read(found[0], sha1)
        with atomic_path(cache_dir / name) as tmp:
            Path(tmp).write_bytes(data)


def fetch_archive_files(
    urls: Sequence[str],
    cache_dir: str | os.PathLike,
    files: Mapping[str, str],
    read: Callable[[Path, str], bytes],
    label: str,
    error: type[ValueError] = MENError,
) -> Path:
    """Download ``files`` (name -> sha1) into ``cache_dir`` unless valid there; return cache_dir.

    Each URL (an archive: tar.gz or zip) is tried in order until one holds every file with its
    sha1; ``read(path, sha1)`` returns a file's checked bytes or raises ``error``. Raises ``error``
    naming every URL and why it failed.
    """
    cache_dir = Path(cache_dir)
    if _all_files_valid(cache_dir, files, read, error):
        log.info("%s already in %s (sha1 verified)", label, cache_dir)
        return cache_dir
    if not urls:
        raise error(f"{label} not found in {cache_dir} and no download URL given")
    cache_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
            archive, unpacked = Path(tmp) / "archive", Path(tmp) / "unpacked"
            try:
                log.info("downloading %s from %s", label, url)
                _download(url, archive)
                _unpack(archive, unpacked, error)
                _install_files(unpacked, cache_dir, url, files, read, error)
            except (OSError, urllib.error.URLError, tarfile.TarError, zipfile.BadZipFile,
                    error) as failure:
                log.warning("%s from %s failed: %s", label, url, failure)
                failures.append(f"{url}: {failure}")
                continue
        log.info("%s downloaded from %s into %s (sha1 verified)", label, url, cache_dir)
        return cache_dir
    raise error(f"could not obtain {label}:\n" + "\n".join(failures))


def fetch_men(urls: Sequence[str], cache_dir: str | os.PathLike) -> Path:
    """Download MEN into ``cache_dir`` (unless valid files are already there) and return it.

    Each URL (an archive: tar.gz or zip) is tried in order until one yields the three lemma-form
    files with the right sha1s. Raises MENError naming every URL and why it failed.
    """
    files = dict(MEN_FILES.values())
    return fetch_archive_files(urls, cache_dir, files, _verified_men_bytes, "MEN")


def resolve_men(
    config_dir: str | os.PathLike | None, urls: Sequence[str], cache_dir: str | os.PathLike,
    search_dirs: Sequence[str | os.PathLike] = (),
) -> Path:
    """The folder to read MEN from, in this order: the local folder (env or config) if set, where a
    missing or altered file is an error; else the first of ``search_dirs`` whose files all pass
    their sha1 checks (absent or altered ones are skipped); else a download into ``cache_dir``."""
    local = men_dir(config_dir)
    if local is not None:
        for name, sha1 in MEN_FILES.values():
            _verified_men_bytes(local / name, sha1)
        return local
    files = dict(MEN_FILES.values())
    for folder in map(Path, search_dirs):
        if _all_files_valid(folder, files, _verified_men_bytes, MENError):
            return folder
    return fetch_men(urls, cache_dir)


def men_concepts(directory: str | os.PathLike, split: str = "full") -> list[str]:
    """Sorted distinct concept ids of a MEN split (751 for full)."""
    pairs = load_men(directory, split)
    return sorted(set(pairs["word1"]) | set(pairs["word2"]))


# --------------------------------------------------------------------------------------------
# hierarchy domains and concept lists
# --------------------------------------------------------------------------------------------


def _hierarchy_row(path: Path, number: int, line: str) -> tuple[str, str, str]:
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != 3 or not all(f.strip() for f in fields):
        raise ConceptError(f"{path}:{number}: expected 3 tab-separated fields, got {line!r}")
    domain, role, concept = (f.strip() for f in fields)
    if role not in ("super", "sub"):
        raise ConceptError(f"{path}:{number}: role must be super or sub, got {role!r}")
    try:
        parse_concept(concept)
    except ConceptError as error:
        raise ConceptError(f"{path}:{number}: {error}") from None
    return domain, role, concept


def _check_domains(path: Path, table: pd.DataFrame) -> None:
    for domain, rows in table.groupby("domain", sort=False):
        n_super = int((rows["role"] == "super").sum())
        n_sub = int((rows["role"] == "sub").sum())
        if n_super != 1 or n_sub < 1:
            raise ConceptError(
                f"{path}: domain {domain!r} needs exactly one super and at least one sub, "
                f"has {n_super} super and {n_sub} sub"
            )
        duplicated = rows["concept"][rows["concept"].duplicated()].tolist()
        if duplicated:
            raise ConceptError(f"{path}: domain {domain!r} lists {duplicated} more than once")


def load_hierarchy(path: str | os.PathLike) -> pd.DataFrame:
    """The hierarchy domains TSV (header domain, role, concept), validated.

    Each row is one concept of a domain with role ``super`` (the super-ordinate) or ``sub``; each
    domain has exactly one super and at least one sub. Returns DataFrame[domain, role, concept]
    in file order; a bad row raises ConceptError naming the file and line.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != _HIERARCHY_COLUMNS:
        expected = "\t".join(_HIERARCHY_COLUMNS)
        raise ConceptError(f"{path}:1: header must be {expected!r}")
    rows = [
        _hierarchy_row(path, number, line)
        for number, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]
    if not rows:
        raise ConceptError(f"{path}: no hierarchy rows")
    table = pd.DataFrame(rows, columns=_HIERARCHY_COLUMNS)
    _check_domains(path, table)
    return table


def load_sense_overrides(path: str | os.PathLike) -> dict[str, str]:
    """Sense overrides TSV (header ``concept<TAB>sense``) as {concept id: synset name or text}.

    Raises ConceptError naming the file and line for a bad id, an empty sense or a duplicate.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or [f.strip() for f in lines[0].split("\t")] != ["concept", "sense"]:
        raise ConceptError(f"{path}:1: header must be 'concept<TAB>sense'")
    overrides: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t", 1)]
        if len(fields) != 2 or not fields[1]:
            raise ConceptError(f"{path}:{number}: expected 'concept<TAB>sense', got {line!r}")
        concept, sense = fields
        try:
            parse_concept(concept)
        except ConceptError as error:
            raise ConceptError(f"{path}:{number}: {error}") from None
        if concept in overrides:
            raise ConceptError(f"{path}:{number}: {concept} is overridden twice")
        overrides[concept] = sense
    return overrides


def read_concept_file(path: str | os.PathLike) -> list[str]:
    """Concept ids of a text file, one per line (blank lines and ``#`` comments ignored)."""
    path = Path(path)
    concepts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            parse_concept(text)
        except ConceptError as error:
            raise ConceptError(f"{path}:{number}: {error}") from None
        concepts.append(text)
    return concepts


def concept_list(
    spec: str,
    men_dir: str | os.PathLike | None,
    hierarchy_path: str | os.PathLike | None,
    extra: Iterable[str | os.PathLike] = (),
) -> list[str]:
    """The sorted, de-duplicated concept ids to analyse.

    ``spec`` is ``"men+hierarchy"`` (every lemma of MEN full, read from ``men_dir``, plus the
    concepts of the hierarchy file) or the path of a concept file; ``extra`` are further concept
    files whose ids are added.
    """
    if spec == MEN_SPEC:
        if men_dir is None or hierarchy_path is None:
            raise ConceptError(f"concept list {MEN_SPEC!r} needs a MEN folder and a hierarchy file")
        concepts = men_concepts(men_dir, "full") + load_hierarchy(hierarchy_path)["concept"].tolist()
    else:
        concepts = read_concept_file(spec)
    for path in extra:
        concepts += read_concept_file(path)
    if not concepts:
        raise ConceptError(f"concept list {spec!r} is empty")
    return sorted(set(concepts))


def pilot_concepts(pairs: pd.DataFrame, fallback: pd.DataFrame, concepts: list[str], n_pairs: int, seed: int) -> list[str]:
    """Concepts of ``n_pairs`` MEN pairs drawn (seeded) among ``concepts`` for the stability sweep.

    Pairs come from ``pairs`` (the dev split, as in the paper) and, when it has too few pairs whose
    two concepts are analysed, from ``fallback`` (the full MEN). Returns the sorted distinct concepts.
    """
    present = set(concepts)

    def usable(table: pd.DataFrame) -> pd.DataFrame:
        return table[table["word1"].isin(present) & table["word2"].isin(present)]

    dev = usable(pairs)
    chosen = dev.sample(n=min(n_pairs, len(dev)), random_state=seed)
    if len(chosen) < n_pairs:
        rest = usable(fallback).merge(dev[["word1", "word2"]], how="left", indicator=True)
        rest = rest[rest["_merge"] == "left_only"].drop(columns="_merge")
        chosen = pd.concat([chosen, rest.sample(n=min(n_pairs - len(chosen), len(rest)), random_state=seed)])
    if chosen.empty:
        raise ValueError("pilot: no MEN pair has both concepts among the analysed concepts")
    return sorted(set(chosen["word1"]) | set(chosen["word2"]))
