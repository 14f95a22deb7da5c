"""Lexical baseline (issue 10): how similar are two concepts' sentence pools as bags of words?

Part of the expert-set "alignment" can come from the words that two concepts' sentences share
rather than from the model (a randomly initialised model still aligns). This baseline measures
that directly: each concept's whole sentence pool becomes one document, the concept's own word
and its inflections are removed from it (they say which concept a pool is about, not what its
sentences share with other pools), and documents are compared by the cosine of their TF-IDF
(or raw count) vectors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from expertalign.concepts import parse_concept
from expertalign.generation import tokenize_words
from expertalign.wordnet import inflections

log = logging.getLogger(__name__)

WEIGHTINGS = ("tfidf", "count")


def _own_mentions_pattern(concept: str) -> re.Pattern[str]:
    """Regex matching the concept's word and its inflections as whole words, any case.

    Multi-word lemmas (an underscore in the id) match with spaces, hyphens or underscores.
    """
    word, pos = parse_concept(concept)
    forms = sorted(inflections(word, pos), key=len, reverse=True)
    alternatives = [re.escape(form).replace("_", r"[\s_-]+") for form in forms]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def pool_document(concept: str, sentences: Sequence[str]) -> str:
    """One concept's sentence pool as a single text with its own word forms removed."""
    if len(sentences) == 0:
        raise ValueError(f"concept {concept!r} has an empty sentence pool")
    return _own_mentions_pattern(concept).sub(" ", "\n".join(sentences))


def lexical_similarity(
    pools: Mapping[str, Sequence[str]],
    weighting: str = "tfidf",
) -> tuple[list[str], np.ndarray]:
    """Cosine similarity of the concepts' sentence pools as bags of words.

    pools: concept id -> its sentences (the whole pool). weighting: "tfidf" (scikit-learn
    TfidfVectorizer defaults: smoothed idf over the concept documents, l2-normalised rows) or
    "count" (CountVectorizer, raw term counts). Each concept's own word and inflections
    (expertalign.wordnet.inflections) are removed from its own pool only; tokens are
    expertalign.generation.tokenize_words (lowercase, inner apostrophes kept); no stop-word list.
    Returns (concepts in `pools` order, [n_c, n_c] float64 cosine; a document left without
    words has similarity 0).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if len(pools) < 2:
        raise ValueError(f"lexical similarity needs at least two concept pools, got {len(pools)}")
    concepts = list(pools)
    documents = [pool_document(concept, pools[concept]) for concept in concepts]
    vectorizer_class = TfidfVectorizer if weighting == "tfidf" else CountVectorizer
    vectors = vectorizer_class(analyzer=tokenize_words).fit_transform(documents)
    log.info("lexical %s vectors: %d concepts x %d words", weighting, *vectors.shape)
    return concepts, cosine_similarity(vectors).astype(np.float64)
