"""WordNet 3.0, offline: definitions for generation prompts and inflected forms of concept words.

WordNet comes from ``EXPERTALIGN_WORDNET_DIR``, an nltk_data ``corpora/wordnet`` corpus, or
Debian's ``wordnet-base`` (/usr/share/wordnet), read with nltk's WordNetCorpusReader. Three traps
are handled here: nltk only opens corpora under a folder of ``nltk.data.path`` (and refuses
symlinks escaping it), Debian's folder has no ``lexnames`` file, and nltk's ``map_wn`` tries to load
the OMW "wordnet" corpus. A plain WordNet folder is therefore copied once into a cache folder
(``$EXPERTALIGN_CACHE_DIR`` or ``$XDG_CACHE_HOME/expertalign`` or ``~/.cache/expertalign``), with the
standard ``lexnames`` added, and read by a reader whose ``map_wn`` does nothing.

Without WordNet, ``definition`` returns None and ``inflections`` uses the regular rules only, each
with a logged warning: a missing WordNet never stops sentence generation.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import nltk
import pandas as pd
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.corpus.reader.wordnet import WordNetError as _NltkWordNetError

from expertalign.concepts import ConceptError, parse_concept

log = logging.getLogger(__name__)

WORDNET_DIR_ENV = "EXPERTALIGN_WORDNET_DIR"
CACHE_DIR_ENV = "EXPERTALIGN_CACHE_DIR"
DEBIAN_WORDNET = Path("/usr/share/wordnet")

#: files a WordNet dict folder must hold (lexnames may be missing: it is written when absent)
REQUIRED_FILES = tuple(
    f"{kind}.{part}" for kind in ("index", "data") for part in ("noun", "verb", "adj", "adv")
) + tuple(f"{part}.exc" for part in ("noun", "verb", "adj", "adv"))

#: the 45 lexicographer file names of WordNet 3.0 (number, name, syntactic category)
LEXNAMES = [
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
]
_LEXNAME_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

#: concept POS tag -> WordNet POS (adjectives include satellites 's' in nltk's synsets())
WORDNET_POS = {"n": "n", "v": "v", "j": "a"}
_EXC_FILE = {"n": "noun.exc", "v": "verb.exc", "j": "adj.exc"}
_SYNSET_NAME_RE = re.compile(r"^[^\s.]+(?:\.[^\s.]+)*\.[nvasr]\.\d+$")
_VERSION_RE = re.compile(rb"WordNet (\d+\.\d+)")
_CONSONANT = "bcdfghjklmnpqrstvz"  # consonants that double before a suffix (not w, x, y)


class WordNetUnavailable(FileNotFoundError):
    """No usable WordNet folder was found."""


class _OfflineWordNetReader(WordNetCorpusReader):
    """WordNetCorpusReader that never looks for the Open Multilingual WordNet."""

    def map_wn(self, version: str = "wordnet") -> None:  # noqa: ARG002 - nltk's signature
        return None


# --------------------------------------------------------------------------------------------
# the reader
# --------------------------------------------------------------------------------------------


def lexnames_text() -> str:
    """The standard 45-line WordNet 3.0 ``lexnames`` file: ``NN<TAB>name<TAB>category``."""
    return "".join(
        f"{number:02d}\t{name}\t{_LEXNAME_CATEGORY[name.split('.')[0]]}\n"
        for number, name in enumerate(LEXNAMES)
    )


def cache_root() -> Path:
    """Folder for expertalign's caches: env EXPERTALIGN_CACHE_DIR, XDG_CACHE_HOME or ~/.cache."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "expertalign"


def _is_wordnet_dir(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def _wordnet_version(folder: Path) -> str:
    with open(folder / "data.noun", "rb") as handle:
        match = _VERSION_RE.search(handle.read(4096))
    return match.group(1).decode() if match else "unknown"


def _cached_copy(source: Path) -> Path:
    """Copy the WordNet files of ``source`` into the cache once (atomically) and return the copy."""
    digest = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:8]
    target = cache_root() / f"wordnet-{_wordnet_version(source)}-{digest}"
    if _is_wordnet_dir(target) and (target / "lexnames").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        building.chmod(0o755)
        for path in source.iterdir():
            if path.is_file():  # plain files only; Debian's bin/ and pixmaps/ are skipped
                shutil.copyfile(path, building / path.name)
        if not (building / "lexnames").is_file():
            (building / "lexnames").write_text(lexnames_text(), encoding="ascii")
        os.replace(building, target)
        log.info("WordNet %s copied into %s", source, target)
    except OSError:
        if not _is_wordnet_dir(target):  # not another process winning the race
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _nltk_corpus_pointer():
    """nltk's own ``corpora/wordnet`` (a folder or zip under nltk.data.path), or None."""
    try:
        return nltk.data.find("corpora/wordnet")
    except LookupError:
        return None


def _make_reader(root) -> WordNetCorpusReader:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions")
        return _OfflineWordNetReader(root, None)


@functools.lru_cache(maxsize=None)
def _reader_for(source: str | None) -> WordNetCorpusReader:
    if source is None:
        pointer = _nltk_corpus_pointer()
        if pointer is not None:
            log.info("WordNet from nltk data: %s", pointer)
            return _make_reader(pointer)
        source = str(DEBIAN_WORDNET)
    folder = Path(source)
    if not _is_wordnet_dir(folder):
        raise WordNetUnavailable(
            f"no WordNet dict in {folder} (needs {', '.join(REQUIRED_FILES)}); install Debian's "
            f"wordnet-base, nltk's wordnet corpus, or set {WORDNET_DIR_ENV}"
        )
    copy = _cached_copy(folder)
    if str(copy) not in nltk.data.path:
        nltk.data.path.append(str(copy))
    return _make_reader(str(copy))


def wordnet_reader(source: str | os.PathLike | None = None) -> WordNetCorpusReader:
    """An nltk WordNet reader, built once per source.

    ``source``: a WordNet dict folder; default env EXPERTALIGN_WORDNET_DIR, else nltk's
    ``corpora/wordnet`` if nltk finds one, else /usr/share/wordnet. Raises WordNetUnavailable when
    the folder lacks the WordNet files.
    """
    chosen = source if source is not None else os.environ.get(WORDNET_DIR_ENV)
    return _reader_for(str(Path(chosen).resolve()) if chosen else None)


def _optional_reader(source: str | os.PathLike | None) -> WordNetCorpusReader | None:
    try:
        return wordnet_reader(source)
    except WordNetUnavailable as error:
        log.warning("WordNet unavailable: %s", error)
        return None


# --------------------------------------------------------------------------------------------
# definitions and sense overrides
# --------------------------------------------------------------------------------------------


def is_synset_name(text: str) -> bool:
    """Whether ``text`` looks like a WordNet synset name such as ``plant.n.02``."""
    return _SYNSET_NAME_RE.match(text) is not None


def _synset_definition(reader: WordNetCorpusReader, concept: str, name: str) -> str:
    try:
        return reader.synset(name).definition()
    except (_NltkWordNetError, ValueError, LookupError) as error:
        raise ConceptError(f"sense override of {concept}: no WordNet synset {name!r}") from error


def definition(
    concept: str,
    overrides: dict[str, str] | None = None,
    source: str | os.PathLike | None = None,
) -> str | None:
    """The definition used in a concept's generation prompts.

    An override (from ``load_sense_overrides``) wins: a synset name gives that synset's gloss, any
    other text is used verbatim. Otherwise the gloss of the first (most frequent) WordNet synset of
    the word for its POS (adjectives include satellites). None, with a warning, when WordNet is
    unavailable or has no synset; a synset name that WordNet lacks raises ConceptError.
    """
    word, pos = parse_concept(concept)
    override = (overrides or {}).get(concept)
    if override is not None and not is_synset_name(override):
        return override
    reader = _optional_reader(source)
    if reader is None:
        log.warning("no definition for %s: WordNet unavailable", concept)
        return None
    if override is not None:
        return _synset_definition(reader, concept, override)
    synsets = reader.synsets(word.replace(" ", "_"), WORDNET_POS[pos])
    if not synsets:
        log.warning("no WordNet synset for %s; its prompts carry no definition", concept)
        return None
    return synsets[0].definition()


# --------------------------------------------------------------------------------------------
# inflections
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _irregular_forms(pos: str) -> dict[str, frozenset[str]]:
    """WordNet's exception list for a POS (n|v|j) reversed: base form -> irregular forms."""
    reader = _optional_reader(None)
    if reader is None:
        log.warning("WordNet unavailable: inflections of POS %s use regular rules only", pos)
        return {}
    forms: dict[str, set[str]] = {}
    with reader.open(_EXC_FILE[pos]) as stream:
        for line in stream:
            inflected, *bases = line.split()
            for base in bases:
                forms.setdefault(base, set()).add(inflected)
    return {base: frozenset(found) for base, found in forms.items()}


def _doubles_final_consonant(word: str) -> bool:
    """Ends in consonant-vowel-consonant (final not w, x, y), as swim, stop, big."""
    return re.search(rf"(?:^|[^aeiou])[aeiou][{_CONSONANT}]$", word) is not None


def _is_monosyllabic(word: str) -> bool:
    return len(re.findall(r"[aeiouy]+", word)) == 1


def _with_suffix(word: str, suffix: str) -> set[str]:
    """``word`` + a vowel-initial suffix (-ed, -ing, -er, -est) with e-dropping, y->i, doubling.

    A polysyllabic consonant-vowel-consonant word gets both the doubled and the plain form
    (preferred, visited): stress decides, which spelling rules cannot see.
    """
    if suffix == "ing":
        if word.endswith("ie"):
            return {word[:-2] + "ying"}
        if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
            return {word[:-1] + suffix}
    elif word.endswith("e"):
        return {word + suffix[1:]}
    elif re.search(r"[^aeiou]y$", word):
        return {word[:-1] + "i" + suffix}
    if _doubles_final_consonant(word):
        doubled = word + word[-1] + suffix
        return {doubled} if _is_monosyllabic(word) else {doubled, word + suffix}
    return {word + suffix}


def _plural(word: str) -> set[str]:
    """Regular plural / third-person singular: -s, -es after sibilants and o, consonant+y -> ies."""
    if re.search(r"(?:s|x|z|ch|sh)$", word):
        return {word + "es"}
    if re.search(r"[^aeiou]y$", word):
        return {word[:-1] + "ies"}
    if word.endswith("o"):
        return {word + "s", word + "es"}
    return {word + "s"}


def _possessives(forms: set[str]) -> set[str]:
    return {form + "'" if form.endswith("s") else form + "'s" for form in forms}


def inflections(word: str, pos: str) -> set[str]:
    """The word itself and its inflected forms (lowercase) for POS n, v or j.

    Nouns: plural and possessives (dog's, dogs'). Verbs: -s, -ed, -ing. Adjectives: -er, -est.
    Regular spelling rules (e-dropping, y -> i, consonant doubling) plus the irregular forms of
    WordNet's exception lists (swim -> swam, swum; bear -> bore, borne, born; child -> children).
    Regular forms are kept even where an irregular one exists: the set is for matching, so a
    spelling no one writes costs nothing.
    """
    if pos not in WORDNET_POS:
        raise ConceptError(f"bad POS {pos!r} for {word!r}: expected one of n, v, j")
    base = word.lower()
    irregular = set(_irregular_forms(pos).get(base, ()))
    if pos == "n":
        plurals = _plural(base) | irregular
        return {base} | plurals | _possessives({base} | plurals)
    if pos == "v":
        regular = _plural(base) | _with_suffix(base, "ed") | _with_suffix(base, "ing")
        return {base} | regular | irregular
    return {base} | _with_suffix(base, "er") | _with_suffix(base, "est") | irregular


@functools.lru_cache(maxsize=4096)
def _mention_pattern(word: str, pos: str) -> re.Pattern[str]:
    alternatives = sorted(inflections(word, pos), key=len, reverse=True)
    escaped = [re.escape(form).replace("_", r"[\s_-]+") for form in alternatives]
    return re.compile(r"(?<!\w)(?:" + "|".join(escaped) + r")(?!\w)", re.IGNORECASE)


def mentions_concept(sentence: str, word: str, pos: str) -> bool:
    """Whether ``sentence`` contains ``word`` or one of its inflections as a whole word.

    Case-insensitive; curly apostrophes count as straight ones; an underscore in a multiword
    lemma matches a space or hyphen.
    """
    text = sentence.replace("\u2019", "'")
    return _mention_pattern(word, pos).search(text) is not None


def concept_table(concepts: list[str], hierarchy: pd.DataFrame, sense_overrides: dict[str, str]) -> pd.DataFrame:
    """One row per concept: concept, word, pos, domain ('' outside the hierarchy), role, definition.

    ``hierarchy`` is a loaded hierarchy table (domain, role, concept), ``sense_overrides`` the
    loaded overrides ({concept: synset name or text}, may be empty). The definition is the WordNet
    sense the generation prompts use (an override where given); a concept without one gets an
    empty definition and a logged warning.
    """
    hierarchy = hierarchy.set_index("concept")
    rows = []
    for concept in concepts:
        word, pos = parse_concept(concept)
        in_hierarchy = concept in hierarchy.index
        rows.append(
            dict(
                concept=concept,
                word=word,
                pos=pos,
                domain=hierarchy.at[concept, "domain"] if in_hierarchy else "",
                role=hierarchy.at[concept, "role"] if in_hierarchy else "",
                definition=definition(concept, sense_overrides) or "",
            )
        )
    return pd.DataFrame(rows)
