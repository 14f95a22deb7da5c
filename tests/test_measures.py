"""Tests for expertalign.measures: the expert measures against direct formulas, the file format."""

import numpy as np
import pytest
from sklearn.metrics import jaccard_score
from sklearn.metrics.pairwise import cosine_similarity

from expertalign.measures import (
    MEASURES,
    cosine_similarities,
    expert_similarities,
    load_similarities,
    matrix_name,
    parse_matrix_name,
    save_similarities,
)


def _hellinger_similarity(a, b, center):
    """1 - H^2 of the above-chance mass distributions of two score rows, straight from the definition."""
    p, q = np.clip(a - center, 0, None), np.clip(b - center, 0, None)
    p, q = p / p.sum(), q / q.sum()
    return 1 - 0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)


@pytest.mark.parametrize("chunk", [7, 1000])
def test_expert_measures_equal_their_definitions(chunk):
    rng = np.random.default_rng(0)
    scores = rng.random((9, 50)).astype(np.float32)
    scores[8] = 0.2  # no unit above chance or tau: empty set, no mass
    result = expert_similarities(scores, 0.5, [0.6, 0.8], chunk=chunk)
    assert sorted(result) == ["cosine", "cosine_centered", "hellinger", "jaccard@0.6", "jaccard@0.8"]
    jaccard, undefined = result["jaccard@0.6"]
    assert jaccard[0, 1] == pytest.approx(jaccard_score(scores[0] > 0.6, scores[1] > 0.6))
    assert undefined[8, 8] and not undefined[0, 8] and not undefined[0, 1]
    assert np.allclose(result["cosine"][0], cosine_similarity(scores), atol=1e-6)
    assert np.allclose(result["cosine_centered"][0], cosine_similarity(scores - 0.5), atol=1e-6)
    hellinger, undefined = result["hellinger"]
    for i, j in [(0, 1), (2, 5), (3, 3)]:
        assert hellinger[i, j] == pytest.approx(_hellinger_similarity(scores[i], scores[j], 0.5), abs=1e-6)
    assert undefined[0, 8] and undefined[8, 0] and not undefined[0, 1]  # concept 8 has no above-chance mass
    assert hellinger[0, 8] == 0
    assert np.all((hellinger >= -1e-9) & (hellinger <= 1 + 1e-9))


def test_hellinger_is_threshold_free_and_unit_aware():
    """Same score values on other units: the AP histograms agree, the similarity is 0."""
    a = np.r_[np.full(10, 0.9), np.full(10, 0.1)].astype(np.float32)
    b = a[::-1].copy()
    hellinger, _ = expert_similarities(np.stack([a, b]), 0.5, [0.5])["hellinger"]
    assert hellinger[0, 1] == pytest.approx(0.0) and hellinger[0, 0] == pytest.approx(1.0)


def test_cosine_similarities_flag_missing_rows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4))
    x[2] = np.nan
    x[4] = 0
    matrix, undefined = cosine_similarities({"contextual": x})["contextual"]
    assert undefined[2].all() and undefined[:, 4].all() and not undefined[0, 1]
    assert matrix[0, 1] == pytest.approx(cosine_similarity(x[[0, 1]])[0, 1])
    assert matrix[2, 0] == 0 and matrix[4, 4] == 0


def test_similarity_files_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    concepts = ["a-n", "b-n", "c-n"]
    result = expert_similarities(rng.random((3, 20)), 0.5, [0.5])
    path = tmp_path / "similarity.npz"
    save_similarities(path, concepts, result)
    loaded_concepts, loaded = load_similarities(path)
    assert loaded_concepts == concepts and sorted(loaded) == sorted(result)
    for name, (matrix, undefined) in result.items():
        assert np.array_equal(loaded[name][0], matrix) and np.array_equal(loaded[name][1], undefined)
    with pytest.raises(ValueError, match="not a similarity matrix name"):
        save_similarities(path, concepts, {"jaccard": result["cosine"]})
    with pytest.raises(ValueError, match="2 concepts"):
        save_similarities(path, concepts[:2], result)


def test_matrix_names():
    assert matrix_name("jaccard", 0.5) == "jaccard@0.5" and parse_matrix_name("jaccard@0.5") == ("jaccard", 0.5)
    measure, tau = parse_matrix_name("hellinger")
    assert measure == "hellinger" and np.isnan(tau)
    with pytest.raises(ValueError, match="needs a tau"):
        matrix_name("jaccard")
    with pytest.raises(ValueError, match="unknown measure"):
        matrix_name("euclid")
    assert {m.kind for m in MEASURES.values()} == {"experts", "embedding", "lexical"}
