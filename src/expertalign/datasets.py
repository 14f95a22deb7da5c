"""Human word-similarity datasets: a registry (MEN, SimLex-999, WordSim-353) plus user files.

Every loader returns a DataFrame with columns word1, word2 (concept ids ``word-POS``, lower case,
POS n/v/j), score (float, the dataset's own scale) and pos_source (``given``: the file states the
part of speech; ``inferred``: the rule below chose it). A new dataset is one ``DatasetSpec`` entry.

Where the data come from: MEN keeps its own config block and loader (expertalign.concepts). The
others come from, in this order: a local folder or file (config ``datasets.<name>.dir``;
environment variables ``EXPERTALIGN_SIMLEX_DIR`` / ``EXPERTALIGN_WORDSIM_DIR`` override it); the
folders of ``datasets.<name>.search_dirs``, where only a known copy whose sha1 matches is taken
(absent or altered files are skipped); a download from URL entries ``{url, file, sha1}`` (an
archive holding ``file``, whose bytes must have ``sha1``; an entry without sha1 is refused, since
the official archives' checksums are not recorded here). A local file whose name is a known copy
(``DatasetSpec.files``) is sha1-checked; other file names (the official SimLex-999.txt, user
files) are read unchecked, with a log line.

Two stages, so that bad input stops a run before any job: ``check_configured`` (at workflow parse
time: no WordNet, no nltk import) finds each configured dataset's file, reads and checks its table
(header, columns, numeric scores, checksum, at least one pair whose two words are words of the
configured concepts, POS ignored) and returns a plain dict per dataset (its "source"); the
dataset's job then calls ``load_source`` with that dict, which rechecks the file's sha1 and
applies the part-of-speech rule below (WordNet).

Part of speech:

* a POS column (official SimLex ``POS`` A/N/V, user ``pos`` n/v/j/a) is used as given;
* SimLex-999 and user files without it: for p in (n, v, a), p is a candidate when both words have
  a WordNet synset of POS p (a includes satellites s); score(p) sums, over both words and their
  synsets of POS p, ``lemma.count()`` of the lemmas named like the word (case-insensitive); the
  candidate of largest score wins, ties to the first of n, v, a; tags n, v, j. Pairs with no
  candidate are dropped (counted, logged);
* WordSim-353: noun (its README), both words needing a noun synset.

Pairs of a concept with itself (WordSim-353's tiger-tiger) are dropped with a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from expertalign.concepts import (
    MEN_DIR_ENV,
    MEN_FILES,
    ConceptError,
    MENError,
    check_sha1,
    fetch_archive_files,
    load_men,
    parse_concept,
    resolve_men,
)
log = logging.getLogger(__name__)

COLUMNS = ["word1", "word2", "score", "pos_source"]
#: WordNet POS tried in order for the inference rule, and the concept tag each becomes
INFERENCE_ORDER = (("n", "n"), ("v", "v"), ("a", "j"))
#: header names (lower case) accepted for each column
_HEADER_ALIASES = {
    "word1": {"word1", "word 1"},
    "word2": {"word2", "word 2"},
    "score": {"score", "simlex999", "human (mean)"},
    "pos": {"pos"},
}
_POS_VALUES = {"n": "n", "v": "v", "a": "j", "j": "j"}
_MEN_CEILING_RE = re.compile(r"correlation\(men,\s*marco\+elia\)\s*=\s*([0-9.]+)")


class DatasetError(ValueError):
    """A dataset file is malformed, fails its checksum, or shares no pair with the concepts."""


def wordnet_reader():
    """The default WordNet reader (expertalign.wordnet, imported here: it imports nltk, which
    parse-time code such as ``check_configured`` must not pay for)."""
    from expertalign.wordnet import wordnet_reader as reader

    return reader()


@dataclass(frozen=True)
class DatasetSpec:
    """One similarity dataset: where it comes from, how its POS is found, its human ceiling.

    ``files`` maps known file names to their sha1 (None: read unchecked), in the order a local
    folder is searched; ``pos_rule`` is ``wordnet`` (infer when no POS column) or ``noun``;
    ``ceiling`` is the human upper bound as a Spearman rho (None: unknown).
    """

    name: str
    files: Mapping[str, str | None]
    pos_rule: str = "wordnet"
    dir_env: str | None = None
    urls: tuple[Mapping[str, str | None], ...] = ()
    ceiling: float | None = None
    ceiling_source: str = ""
    header_required: bool = False


DATASETS: dict[str, DatasetSpec] = {
    "men": DatasetSpec(
        name="men",
        files={},
        dir_env=MEN_DIR_ENV,
        ceiling=0.84,
        ceiling_source="MEN agreement-score.txt: correlation(men, marco+elia)=0.84 "
        "(Bruni, Tran & Baroni 2014)",
    ),
    "simlex999": DatasetSpec(
        name="simlex999",
        files={"SimLex-999.txt": None, "simlex999.txt": "c156b6497ee66bbc63c6610e603ec5d563ca931f"},
        dir_env="EXPERTALIGN_SIMLEX_DIR",
        urls=({"url": "https://fh295.github.io/SimLex-999.zip", "file": "SimLex-999.txt",
               "sha1": None},),
        ceiling=0.67,
        ceiling_source="Hill, Reichart & Korhonen 2015: inter-annotator agreement (average "
        "pairwise Spearman)",
    ),
    "wordsim353": DatasetSpec(
        name="wordsim353",
        files={"wordsim353.tsv": "5207d1bb6dd863994fa4032f48f149bf28a5468e", "combined.tab": None,
               "combined.csv": None},
        pos_rule="noun",
        dir_env="EXPERTALIGN_WORDSIM_DIR",
        urls=({"url": "http://www.cs.technion.ac.il/~gabr/resources/data/wordsim353/wordsim353.zip",
               "file": "combined.tab", "sha1": None},),
        ceiling=None,
        ceiling_source="no agreement figure published with the data (Finkelstein et al. 2002)",
    ),
}


# --------------------------------------------------------------------------------------------
# reading a pair table
# --------------------------------------------------------------------------------------------


def _split(line: str, delimiter: str | None) -> list[str]:
    return [f.strip() for f in (line.split(delimiter) if delimiter else line.split())]


def _delimiter(path: Path, first_line: str) -> str | None:
    """Tab when the first line has one, comma for .csv or a comma line, else whitespace."""
    if "\t" in first_line:
        return "\t"
    if path.suffix.lower() == ".csv" or "," in first_line:
        return ","
    return None


def _header_columns(path: Path, number: int, fields: list[str]) -> dict[str, int] | None:
    """Column name -> index when ``fields`` is a header (its first field names word1), else None."""
    lowered = [f.lower() for f in fields]
    if lowered[0] not in _HEADER_ALIASES["word1"]:
        return None
    columns = {}
    for name, aliases in _HEADER_ALIASES.items():
        hits = [i for i, f in enumerate(lowered) if f in aliases]
        if hits:
            columns[name] = hits[0]
    missing = [c for c in ("word1", "word2", "score") if c not in columns]
    if missing:
        raise DatasetError(
            f"{path}:{number}: header lacks column(s) {missing}; expected word1, word2, "
            f"score[, pos], "
            f"got {fields}"
        )
    return columns


def read_pair_table(path: str | os.PathLike, header_required: bool) -> pd.DataFrame:
    """Rows of a pair file: DataFrame[line, word1, word2, score, pos] (pos None when absent).

    Blank lines and ``#`` comment lines are skipped. A header (first field word1 / "Word 1")
    names the columns word1, word2, score (or SimLex999 / "Human (mean)") and optionally pos;
    without a header each row is ``word1 word2 score``. Raises DatasetError naming file and line
    for a bad header, a row of the wrong width, a non-numeric score or POS, or no rows.
    """
    path = Path(path)
    lines = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise DatasetError(f"{path}: no rows")
    delimiter = _delimiter(path, lines[0][1])
    columns = _header_columns(path, lines[0][0], _split(lines[0][1], delimiter))
    if columns is None and header_required:
        raise DatasetError(
            f"{path}:{lines[0][0]}: bad header {lines[0][1]!r}; expected word1, word2, score[, pos]"
        )
    width = len(_split(lines[0][1], delimiter)) if columns else 3
    body = lines[1:] if columns else lines
    columns = columns or {"word1": 0, "word2": 1, "score": 2}
    rows = [
        _pair_row(path, number, _split(line, delimiter), width, columns)
        for number, line in body
    ]
    if not rows:
        raise DatasetError(f"{path}: no rows after the header")
    return pd.DataFrame(rows, columns=["line", "word1", "word2", "score", "pos"])


def _pair_row(path: Path, number: int, fields: list[str], width: int, columns: dict[str, int]):
    if len(fields) != width:
        raise DatasetError(f"{path}:{number}: expected {width} fields, got {len(fields)}: {fields}")
    try:
        score = float(fields[columns["score"]])
    except ValueError:
        raise DatasetError(
            f"{path}:{number}: score {fields[columns['score']]!r} is not a number"
        ) from None
    pos = None
    if "pos" in columns:
        pos = _POS_VALUES.get(fields[columns["pos"]].lower())
        if pos is None:
            raise DatasetError(
                f"{path}:{number}: POS {fields[columns['pos']]!r} is not one of A/N/V (or j)"
            )
    return number, fields[columns["word1"]].lower(), fields[columns["word2"]].lower(), score, pos


# --------------------------------------------------------------------------------------------
# part of speech
# --------------------------------------------------------------------------------------------


def _pos_score(reader, word: str, wordnet_pos: str) -> int | None:
    """Summed lemma.count() of the lemmas named ``word`` over its synsets of POS (None: none)."""
    synsets = reader.synsets(word, pos=wordnet_pos)  # pos 'a' includes satellites 's'
    if not synsets:
        return None
    return sum(
        lemma.count()
        for synset in synsets
        for lemma in synset.lemmas()
        if lemma.name().lower() == word.lower()
    )


def infer_pos(word1: str, word2: str, reader=None) -> str | None:
    """The concept POS tag (n, v, j) of a pair by the module docstring's WordNet rule, or None."""
    reader = reader or wordnet_reader()
    best, best_score = None, -1
    for wordnet_pos, tag in INFERENCE_ORDER:
        scores = [_pos_score(reader, word, wordnet_pos) for word in (word1, word2)]
        if None in scores:
            continue
        if sum(scores) > best_score:
            best, best_score = tag, sum(scores)
    return best


def _noun_pos(word1: str, word2: str, reader) -> str | None:
    return "n" if reader.synsets(word1, pos="n") and reader.synsets(word2, pos="n") else None


def to_concept_pairs(table: pd.DataFrame, path: Path, pos_rule: str) -> pd.DataFrame:
    """Concept pairs (DataFrame[word1, word2, score, pos_source]) from ``read_pair_table`` rows.

    Rows with a POS use it; the others take ``pos_rule`` (``wordnet`` or ``noun``). Pairs without
    a POS and self-pairs are dropped with a logged count.
    """
    reader = None if table["pos"].notna().all() else wordnet_reader()
    guess = {"wordnet": infer_pos, "noun": _noun_pos}[pos_rule]
    rows, no_pos, self_pairs = [], [], []
    for row in table.itertuples(index=False):
        tag, source = row.pos, "given"
        if tag is None:
            tag, source = guess(row.word1, row.word2, reader), "inferred"
        if tag is None:
            no_pos.append(f"{row.word1}-{row.word2}")
            continue
        concepts = (f"{row.word1}-{tag}", f"{row.word2}-{tag}")
        for concept in concepts:
            try:
                parse_concept(concept)
            except ConceptError as error:
                raise DatasetError(f"{path}:{row.line}: {error}") from None
        if concepts[0] == concepts[1]:
            self_pairs.append(concepts[0])
            continue
        rows.append((*concepts, row.score, source))
    if no_pos:
        log.warning("%s: %d pair(s) dropped, no part of speech (%s rule): %s",
                    path, len(no_pos), pos_rule, ", ".join(no_pos))
    if self_pairs:
        log.info("%s: %d pair(s) of a word with itself dropped: %s",
                 path, len(self_pairs), ", ".join(self_pairs))
    pairs = pd.DataFrame(rows, columns=COLUMNS)
    counts = pairs["pos_source"].value_counts().to_dict()
    log.info("%s: %d pairs, POS %s", path, len(pairs), counts)
    return pairs


# --------------------------------------------------------------------------------------------
# locating and loading
# --------------------------------------------------------------------------------------------


def _checked_file(spec: DatasetSpec, path: Path) -> Path:
    """``path`` after its sha1 check when its name is a known copy; else logged as unchecked."""
    if not path.is_file():
        raise DatasetError(f"{spec.name}: file missing: {path}")
    sha1 = spec.files.get(path.name)
    if sha1 is None:
        log.info("%s: %s read without a sha1 check (no known checksum for this file name)",
                 spec.name, path)
    else:
        check_sha1(path, path.read_bytes(), sha1, spec.name, DatasetError)
    return path


def _sha1_of(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _read_checked(path: Path, expected_sha1: str) -> bytes:
    """The bytes of a downloaded dataset file after their sha1 check; DatasetError otherwise."""
    if not path.is_file():
        raise DatasetError(f"file missing: {path}")
    return check_sha1(path, path.read_bytes(), expected_sha1, "dataset", DatasetError)


def _known_copy(spec: DatasetSpec, place: Path) -> Path | None:
    """The first known copy (a ``spec.files`` name with a sha1) in folder ``place`` (or ``place``
    itself when it is such a file) whose sha1 matches; absent or altered copies are skipped."""
    known = {name: sha1 for name, sha1 in spec.files.items() if sha1}
    candidates = [place / name for name in known] if place.is_dir() else [place]
    for path in candidates:
        if path.name not in known or not path.is_file():
            continue
        if _sha1_of(path) == known[path.name]:
            return path
        log.warning("%s: %s skipped: its sha1 is not that of the known copy", spec.name, path)
    return None


def dataset_file(
    spec: DatasetSpec,
    local: str | os.PathLike | None = None,
    urls: Iterable[Mapping[str, str | None]] | None = None,
    cache_dir: str | os.PathLike = "resources/datasets",
    search_dirs: Iterable[str | os.PathLike] = (),
) -> Path:
    """The file of ``spec``: env ``spec.dir_env``, else ``local`` (folder or file), else the first
    known copy with a matching sha1 in ``search_dirs``, else a download.

    A local folder is searched for the names of ``spec.files`` in order. Downloads need a sha1 per
    URL entry ``{url, file, sha1}``; the file lands in ``cache_dir/<name>/``.
    """
    chosen = (os.environ.get(spec.dir_env) if spec.dir_env else None) or local
    if chosen:
        chosen = Path(chosen)
        if chosen.is_dir():
            found = [chosen / name for name in spec.files if (chosen / name).is_file()]
            if not found:
                raise DatasetError(f"{spec.name}: {chosen} holds none of {list(spec.files)}")
            chosen = found[0]
        return _checked_file(spec, chosen)
    for folder in map(Path, search_dirs):
        found = _known_copy(spec, folder)
        if found is not None:
            log.info("%s: using %s (sha1 verified)", spec.name, found)
            return found
    entries = list(spec.urls if urls is None else urls)
    unchecked = [e["url"] for e in entries if not e.get("sha1")]
    if unchecked or not entries:
        raise DatasetError(
            f"{spec.name}: no local file (set datasets.{spec.name}.dir or ${spec.dir_env}, or add a "
            f"folder holding a known copy {[n for n, h in spec.files.items() if h]} to "
            f"datasets.{spec.name}.search_dirs) and no download URL with a sha1 (entries lacking "
            f"sha1: {unchecked})"
        )
    folder = Path(cache_dir) / spec.name
    failures = []
    for entry in entries:
        try:
            fetch_archive_files([entry["url"]], folder, {entry["file"]: entry["sha1"]},
                                _read_checked, spec.name, DatasetError)
            return folder / entry["file"]
        except DatasetError as error:
            failures.append(str(error))
    raise DatasetError("\n".join(failures))


def men_ceiling(directory: str | os.PathLike | None) -> float:
    """MEN's human ceiling: read from agreement-score.txt in ``directory`` when there, else 0.84."""
    path = Path(directory) / "agreement-score.txt" if directory else None
    if path is not None and path.is_file():
        match = _MEN_CEILING_RE.search(path.read_text(encoding="utf-8"))
        if match:
            return float(match.group(1))
    return DATASETS["men"].ceiling


def load_pair_file(spec: DatasetSpec, path: str | os.PathLike) -> pd.DataFrame:
    """Concept pairs of one file of ``spec`` (see ``read_pair_table`` and ``to_concept_pairs``)."""
    path = Path(path)
    return to_concept_pairs(read_pair_table(path, spec.header_required), path, spec.pos_rule)


def user_spec(name: str) -> DatasetSpec:
    """Spec of a user TSV/CSV (header word1, word2, score[, pos]): unchecked, WordNet POS rule."""
    if name in DATASETS:
        raise DatasetError(f"datasets.user.{name}: the name is a built-in dataset; choose another")
    return DatasetSpec(name=name, files={}, header_required=True,
                       ceiling_source="user file: no ceiling known")


def load_dataset(
    name: str,
    local: str | os.PathLike | None = None,
    urls: Iterable[Mapping[str, str | None]] | None = None,
    cache_dir: str | os.PathLike = "resources/datasets",
) -> pd.DataFrame:
    """Concept pairs of the built-in dataset ``name`` (not men: see ``check_configured`` and ``load_source``)."""
    if name not in DATASETS or name == "men":
        raise DatasetError(
            f"unknown dataset {name!r}; expected one of {sorted(DATASETS)} or a user file"
        )
    spec = DATASETS[name]
    return load_pair_file(spec, dataset_file(spec, local, urls, cache_dir))


def pairs_among(pairs: pd.DataFrame, concepts: Iterable[str], dataset: str) -> pd.DataFrame:
    """The pairs whose two concepts are both in ``concepts``; DatasetError when there are none."""
    wanted = set(concepts)
    kept = pairs[pairs["word1"].isin(wanted) & pairs["word2"].isin(wanted)]
    if kept.empty:
        raise DatasetError(
            f"dataset {dataset!r}: none of its {len(pairs)} pairs has both concepts among the "
            f"{len(wanted)} configured concepts"
        )
    return kept.reset_index(drop=True)


def user_entry(name: str, entry: str | Mapping) -> tuple[str, float | None]:
    """(path, ceiling) of ``datasets.user.<name>``: a path string, or ``{path, ceiling}`` (ceiling
    optional: a Spearman rho in 0..1, or None for unknown)."""
    if isinstance(entry, str):
        return entry, None
    ceiling = entry.get("ceiling")
    if ceiling is not None and not 0 <= ceiling <= 1:
        raise DatasetError(f"datasets.user.{name}.ceiling: {ceiling} is not a Spearman rho in 0..1")
    return entry["path"], None if ceiling is None else float(ceiling)


# --------------------------------------------------------------------------------------------
# parse-time check and the per-dataset job's loader
# --------------------------------------------------------------------------------------------


def _unknown_name(name: str, block: Mapping) -> DatasetError:
    return DatasetError(
        f"datasets.names: unknown dataset {name!r}; expected one of {sorted(DATASETS)} "
        f"or a key of datasets.user {sorted(block['user'])}"
    )


def _absolute(path: str | os.PathLike, base: str | os.PathLike) -> Path:
    """``path`` when absolute, else ``base / path`` (then made absolute: base may be relative)."""
    path = Path(path).expanduser()
    return Path(os.path.abspath(path if path.is_absolute() else Path(base) / path))


def _digest(path: Path) -> str:
    if not path.is_file():
        raise DatasetError(f"file missing: {path}")
    return _sha1_of(path)


def _men_source(config: Mapping, base, men_dir) -> tuple[dict, list[tuple[int, str, str]]]:
    men = config["concepts"]["men"]
    try:
        if men_dir is None:
            men_dir = resolve_men(
                men["dir"] and _absolute(men["dir"], base), men["urls"],
                _absolute(men["cache_dir"], base), [_absolute(d, base) for d in men["search_dirs"]],
            )
        folder = Path(os.path.abspath(men_dir))
        pairs = load_men(folder, men["split"])
    except (MENError, ConceptError) as error:
        raise DatasetError(f"dataset 'men': {error}") from None
    split_file = folder / MEN_FILES[men["split"]][0]
    agreement = folder / "agreement-score.txt"
    ceiling = men_ceiling(folder)
    source = {
        "name": "men",
        "file": str(folder),
        "split": men["split"],
        "sha1": _digest(split_file),
        "pos_rule": "given",
        "ceiling": ceiling,
        "ceiling_source": (
            f"{agreement}: correlation(men, marco+elia)={ceiling}"
            if agreement.is_file() and _MEN_CEILING_RE.search(agreement.read_text(encoding="utf-8"))
            else DATASETS["men"].ceiling_source
        ),
    }
    words = [(number, a.rpartition("-")[0], b.rpartition("-")[0])
             for number, (a, b) in enumerate(zip(pairs["word1"], pairs["word2"]), start=1)]
    return source, words


def _file_source(name: str, spec: DatasetSpec, path: Path, ceiling: float | None,
                 ceiling_source: str) -> tuple[dict, list[tuple[int, str, str]]]:
    """The source dict of a pair file, after reading its table (header, columns, scores) and
    checking that each word makes a valid concept id (the POS tag is chosen later)."""
    table = read_pair_table(path, spec.header_required)
    rows = []
    for number, word1, word2, pos in zip(table["line"], table["word1"], table["word2"], table["pos"]):
        for word in (word1, word2):
            try:
                parse_concept(f"{word}-{pos or 'n'}")
            except ConceptError as error:
                raise DatasetError(f"{path}:{number}: {error}") from None
        rows.append((int(number), word1, word2))
    source = {
        "name": name,
        "file": str(path),
        "split": None,
        "sha1": _digest(path),
        "pos_rule": spec.pos_rule,
        "ceiling": ceiling,
        "ceiling_source": ceiling_source,
    }
    return source, rows


def check_configured(
    config: Mapping,
    concepts: Iterable[str],
    base: str | os.PathLike,
    men_dir: str | os.PathLike | None = None,
) -> dict[str, dict]:
    """The "source" of each dataset of ``config["datasets"]["names"]``, in that order, checked.

    Called when the workflow is parsed, so that bad input stops the run before any job: no
    WordNet here (nltk is not imported). ``config`` carries the schema's defaults; its relative
    paths are read from ``base`` (the workflow folder). ``men_dir`` is MEN's resolved folder (as
    ``concepts.resolve_men`` returns it); when None it is resolved here from ``concepts.men``.
    A source is a JSON-able dict: name; file (absolute path of the data file, or of the MEN
    folder); split (MEN's split, else None); sha1 (of the file's bytes: of the split's file for
    MEN); pos_rule (given for MEN, else wordnet or noun); ceiling (Spearman rho, None when unknown;
    MEN's from agreement-score.txt); ceiling_source (where the ceiling comes from).

    Raises DatasetError, naming the file and, where there is one, the line, for: an unknown name;
    a user dataset named like a built-in one; a missing file; a bad header or missing column; a
    row of the wrong width; a non-numeric score or a bad POS; a word that makes no concept id; a
    known copy failing its sha1; and a dataset none of whose pairs has both words among the words
    of ``concepts`` (``word-pos`` ids; POS ignored).
    """
    block = config["datasets"]
    for name in block["user"]:
        user_spec(name)  # a built-in name is refused
    concepts = list(concepts)
    words = {parse_concept(concept)[0].lower() for concept in concepts}
    sources = {}
    for name in block["names"]:
        if name == "men":
            source, pairs = _men_source(config, base, men_dir)
        elif name in DATASETS:
            spec, settings = DATASETS[name], block[name]
            path = dataset_file(
                spec,
                settings["dir"] and _absolute(settings["dir"], base),
                settings["urls"],
                _absolute(block["cache_dir"], base),
                [_absolute(d, base) for d in settings.get("search_dirs", ())],
            )
            source, pairs = _file_source(name, spec, Path(os.path.abspath(path)), spec.ceiling,
                                         spec.ceiling_source)
        elif name in block["user"]:
            entry, ceiling = user_entry(name, block["user"][name])
            path = _absolute(entry, base)
            if not path.is_file():
                raise DatasetError(f"datasets.user.{name}: file missing: {path}")
            source, pairs = _file_source(
                name, user_spec(name), path, ceiling,
                f"config datasets.user.{name}.ceiling" if ceiling is not None
                else "user file: no ceiling known",
            )
        else:
            raise _unknown_name(name, block)
        kept = sum(1 for _, word1, word2 in pairs if word1 in words and word2 in words)
        if not kept:
            raise DatasetError(
                f"dataset {name!r}: none of the {len(pairs)} pairs of {source['file']} has both words "
                f"among the {len(words)} words of the {len(concepts)} configured concepts (POS ignored)"
            )
        log.info("dataset %r: %s, %d of %d pairs have both words among the concepts",
                 name, source["file"], kept, len(pairs))
        sources[name] = source
    return sources


def load_source(source: Mapping) -> pd.DataFrame:
    """Concept pairs (DataFrame[word1, word2, score, pos_source]) of a ``check_configured`` source.

    The file's sha1 is checked against ``source["sha1"]`` first (DatasetError when the file
    changed since the workflow was parsed); the part of speech is then found as the module
    docstring says (WordNet).
    """
    name, path = source["name"], Path(source["file"])
    checked = path / MEN_FILES[source["split"]][0] if name == "men" else path
    actual = _digest(checked)
    if actual != source["sha1"]:
        raise DatasetError(
            f"dataset {name!r}: {checked} changed since the workflow was parsed (sha1 {actual}, "
            f"expected {source['sha1']}); run snakemake again"
        )
    if name == "men":
        try:
            pairs = load_men(path, source["split"])
        except (MENError, ConceptError) as error:
            raise DatasetError(f"dataset 'men': {error}") from None
        return pairs.assign(pos_source="given")[COLUMNS]
    spec = DATASETS[name] if name in DATASETS else user_spec(name)
    return to_concept_pairs(read_pair_table(path, spec.header_required), path, source["pos_rule"])
