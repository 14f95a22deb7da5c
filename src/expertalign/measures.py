"""Concept similarity measures: the one registry of everything correlated with human judgements.

Each measure gives a [n_concepts, n_concepts] similarity matrix and an ``undefined`` mask of the
same shape: True where the similarity is undefined (two empty expert sets, a concept with no
above-chance mass or a zero vector, a word never found in its sentences) and counted as 0, the
project's one rule, with the number of such pairs reported beside each result (n_empty_union).

Kinds:

* ``experts``, computed from a score file ([n_concepts, n_units] AP / AUROC) by ``expert_similarities``:
  ``jaccard`` of the expert sets {u: score > tau} at every tau (matrix names ``jaccard@<tau>``),
  ``cosine`` of the raw scores, ``cosine_centered`` of scores minus their chance centre, and
  ``hellinger``: 1 - H^2(p_a, p_b), the Bhattacharyya coefficient of the two concepts'
  distributions of above-chance score mass over units, p_c(u) = max(s_cu - centre, 0) / sum_u(...),
  a threshold-free divergence (H^2, the squared Hellinger distance, is an f-divergence in [0, 1]).
  1 - H^2 is the cosine of the rows sqrt(max(s - centre, 0)), so it costs one Gram matrix.
* ``embedding``, from a model's hidden states (expertalign.embeddings): ``word`` (the bare word),
  ``word_space`` (the word after a space, for tokenizers where that differs), ``contextual`` (the
  word's own tokens in the concept's sentences) and ``sentence_pool`` (mean sentence state), each
  compared by cosine.
* ``lexical``: bag-of-words similarity of the concepts' sentence pools (expertalign.lexical).

A new measure is one ``Measure`` entry here (and, for an expert measure, its matrix added to
a pass of ``EXPERT_PASSES``); tables, figures and the report take names and labels from ``MEASURES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from expertalign.similarity import UNIT_CHUNK, check_2d, cosine_from_gram, expert_jaccards, score_grams
from expertalign.workflow import load_npz, save_npz

KINDS = ("experts", "embedding", "lexical")


@dataclass(frozen=True)
class Measure:
    """One similarity measure: its name in tables, its kind, its label in figures."""

    name: str
    kind: str
    label: str
    thresholded: bool = False


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("jaccard", "experts", "experts: Jaccard", thresholded=True),
        Measure("cosine", "experts", "experts: cosine"),
        Measure("cosine_centered", "experts", "experts: cosine (centred)"),
        Measure("hellinger", "experts", "experts: 1 \u2212 Hellinger\u00b2"),
        Measure("word", "embedding", "word embedding"),
        Measure("word_space", "embedding", "word embedding (leading space)"),
        Measure("contextual", "embedding", "contextual embedding"),
        Measure("sentence_pool", "embedding", "sentence-pool embedding"),
        Measure("lexical", "lexical", "lexical"),
    )
}
Similarities = dict[str, tuple[np.ndarray, np.ndarray]]  # matrix name -> (similarity, undefined)


def matrix_name(measure: str, tau: float | None = None) -> str:
    """File key of a measure's matrix: ``jaccard@0.5`` for a thresholded measure, else its name."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {sorted(MEASURES)}")
    if MEASURES[measure].thresholded:
        if tau is None:
            raise ValueError(f"measure {measure!r} needs a tau")
        return f"{measure}@{float(tau)}"
    return measure


def parse_matrix_name(name: str) -> tuple[str, float]:
    """(measure, tau) of a matrix key; tau NaN for a measure without a threshold."""
    measure, _, tau = name.partition("@")
    if measure not in MEASURES or bool(tau) != MEASURES[measure].thresholded:
        raise ValueError(f"not a similarity matrix name: {name!r}")
    return measure, float(tau) if tau else float("nan")


def zero_norm_pairs(norms: np.ndarray) -> np.ndarray:
    """undefined [n, n] bool: pairs where either row has norm (or mass) 0."""
    empty = np.asarray(norms) <= 0
    return empty[:, None] | empty[None, :]


def _jaccard(scores: np.ndarray, center: float, taus: Sequence[float], chunk: int) -> Similarities:
    """Jaccard of expert sets at every tau, one pass; undefined where both sets are empty."""
    result = {}
    for tau, (jaccard, sizes) in expert_jaccards(scores, taus, chunk).items():
        empty = sizes == 0
        result[matrix_name("jaccard", tau)] = (jaccard, empty[:, None] & empty[None, :])
    return result


def _gram_measures(scores: np.ndarray, center: float, taus: Sequence[float], chunk: int) -> Similarities:
    """cosine, cosine_centered and hellinger (module docstring) from one pass over the units."""
    return {
        name: (cosine_from_gram(gram), zero_norm_pairs(np.diag(gram)))
        for name, gram in zip(("cosine", "cosine_centered", "hellinger"), score_grams(scores, center, chunk))
    }


#: The passes over a score matrix that compute the expert measures, each (scores, chance centre,
#: taus, chunk) -> {matrix name: (similarity, undefined)}; a new expert measure adds its matrix to one.
EXPERT_PASSES: tuple[Callable[..., Similarities], ...] = (_jaccard, _gram_measures)


def expert_similarities(
    scores: np.ndarray, center: float, taus: Sequence[float], chunk: int = UNIT_CHUNK
) -> Similarities:
    """Every expert measure of a score matrix [n_concepts, n_units]: {matrix name: (similarity
    [n_c, n_c] float64, undefined [n_c, n_c] bool)}. center: the score's chance level
    (expertalign.tables.chance_center); taus: the expert thresholds."""
    scores = np.asarray(scores)
    check_2d(scores, "scores")
    result: Similarities = {}
    for compute in EXPERT_PASSES:
        result.update(compute(scores, center, taus, chunk))
    return result


def cosine_similarities(vectors: Mapping[str, np.ndarray]) -> Similarities:
    """Cosine of the rows of each [n_concepts, dim] matrix; a row with a NaN or zero norm is undefined."""
    result = {}
    for name, x in vectors.items():
        x = np.asarray(x, dtype=np.float64)
        x = np.where(np.isnan(x).any(axis=1, keepdims=True), 0.0, x)  # a NaN row counts as a zero row
        gram = x @ x.T
        result[name] = (cosine_from_gram(gram), zero_norm_pairs(np.diag(gram)))
    return result


def save_similarities(path, concepts: Sequence[str], similarities: Similarities) -> None:
    """Write {name: (similarity, undefined)} for `concepts` (rows and columns in that order) as one npz."""
    arrays = {"concepts": np.asarray(list(concepts), dtype=str)}
    for name, (matrix, undefined) in similarities.items():
        parse_matrix_name(name)
        if matrix.shape != (len(concepts), len(concepts)) or undefined.shape != matrix.shape:
            raise ValueError(f"{name}: matrix {matrix.shape} / undefined {undefined.shape} for {len(concepts)} concepts")
        arrays[f"similarity:{name}"] = np.asarray(matrix, dtype=np.float64)
        arrays[f"undefined:{name}"] = np.asarray(undefined, dtype=bool)
    save_npz(path, **arrays)


def load_similarities(path) -> tuple[list[str], Similarities]:
    """(concepts, {name: (similarity, undefined)}) of a file written by save_similarities."""
    arrays = load_npz(path)
    names = [key.partition(":")[2] for key in arrays if key.startswith("similarity:")]
    return [str(c) for c in arrays["concepts"]], {
        name: (arrays[f"similarity:{name}"], arrays[f"undefined:{name}"]) for name in names
    }
