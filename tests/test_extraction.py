"""extract_scores equals the naive per-concept computation; score files round-trip and merge."""

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

from expertalign.expertise import auroc, average_precision
from expertalign.scores import normalized_ap
from expertalign.extraction import (
    StageTimer,
    concept_chunks,
    extract_fold_series,
    extract_scores,
    fold_sentence_ids,
    negative_rows,
)
from expertalign.scores import load_scores, merge_scores, read_scores, save_scores
from expertalign.folds import draw_fold, negatives_for
from expertalign.models import load_model, select_modules
from expertalign.responses import record_responses
from tiny_models import TEXT, build_tiny_model

CONCEPTS = ["cat-n", "dog-n", "horse-n", "boat-n", "train-n", "rain-n"]
POOL_SIZE, P, N, M = 10, 6, 20, 40


def make_pool(seed: int = 0) -> pd.DataFrame:
    """POOL_SIZE sentences per concept, of 3 to 15 words."""
    rng = random.Random(seed)
    rows = []
    for concept in CONCEPTS:
        word = concept.split("-")[0]
        for i in range(POOL_SIZE):
            words = [rng.choice(TEXT) for _ in range(rng.randint(2, 14))]
            words.insert(rng.randrange(len(words)), word)
            rows.append((concept, "fact" if i % 2 else "story", " ".join(words) + "."))
    pool = pd.DataFrame(rows, columns=["concept", "prompt", "sentence"])
    pool.insert(0, "sentence_id", range(len(pool)))
    return pool


def make_fold(pool: pd.DataFrame, seed: int = 0) -> dict:
    """A fold by the contract: P positives per concept, its own N negatives from a pool of M = 40."""
    return draw_fold(pool.set_index("sentence_id")["concept"], CONCEPTS, P, N, fold=0, seed=seed,
                     negative_pool_size=M)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = build_tiny_model("gpt_neox", tmp_path_factory.mktemp("neox"), seed=2)
    model, tokenizer = load_model(str(path), device="cpu")
    pool = make_pool()
    return model, tokenizer, select_modules(model), pool, make_fold(pool)


@pytest.fixture(scope="module")
def result(setup):
    model, tokenizer, modules, pool, fold = setup
    timer = StageTimer()
    out = extract_scores(model, tokenizer, modules, pool, fold, CONCEPTS, batch_size=1, pooling="max",
                         max_length=64, device="cpu", timer=timer, progress=False)
    out["timer"] = timer
    return out


def test_negative_rows_point_at_each_concepts_negatives(setup):
    _, _, _, _, fold = setup
    pool = np.asarray(fold["negative_pool"])
    for concept in CONCEPTS:
        np.testing.assert_array_equal(pool[negative_rows(fold, concept)], negatives_for(fold, concept))
    broken = {**fold, "negatives": {**fold["negatives"], "cat-n": [10**6] * N}}
    with pytest.raises(ValueError, match="negatives of cat-n are not all in its sorted negative_pool"):
        negative_rows(broken, "cat-n")


def test_extraction_equals_naive_per_concept_computation(setup, result):
    model, tokenizer, modules, pool, fold = setup
    sentences = pool.sentence.to_numpy()
    assert result["concepts"] == CONCEPTS
    assert result["ap"].dtype == np.float32 and result["ap"].shape == (len(CONCEPTS), 448)
    np.testing.assert_array_equal(result["n_pos"], P)
    np.testing.assert_array_equal(result["n_neg"], N)
    for row, concept in enumerate(CONCEPTS):
        pos = record_responses(model, tokenizer, list(sentences[fold["positives"][concept]]), modules,
                               batch_size=1, max_length=64, progress=False)
        neg = record_responses(model, tokenizer, list(sentences[negatives_for(fold, concept)]), modules,
                               batch_size=1, max_length=64, progress=False)
        np.testing.assert_allclose(result["ap"][row], average_precision(pos, neg).numpy(), atol=1e-6)
        np.testing.assert_allclose(result["auroc"][row], auroc(pos, neg).numpy(), atol=1e-6)
        labels = np.r_[np.ones(P), np.zeros(N)]
        for unit in range(pos.shape[1]):  # each concept's own negatives, ties included
            expected = average_precision_score(labels, np.r_[pos[:, unit].numpy(), neg[:, unit].numpy()])
            assert abs(result["ap"][row, unit] - expected) <= 1e-6
    assert set(result["timer"].seconds) == {"forward_negatives", "forward_positives", "ap"}


def test_concept_chunks_fill_the_budget_in_order():
    assert concept_chunks([3, 3, 3, 3], row_bytes=10, budget_bytes=60) == [[0, 1], [2, 3]]
    assert concept_chunks([3, 3, 3], row_bytes=10, budget_bytes=10**6) == [[0, 1, 2]]
    assert concept_chunks([9, 1, 1], row_bytes=10, budget_bytes=50) == [[0], [1, 2]]  # too big alone: own group
    assert concept_chunks([], row_bytes=10, budget_bytes=50) == []


@pytest.mark.parametrize("threads", [1, 2])
def test_scores_do_not_depend_on_how_concepts_are_grouped(setup, result, threads):
    """One concept per forward (tiny budget) or all concepts in shared batches, left or right padded,
    on 1 or 2 threads: the same scores as one sentence at a time."""
    model, tokenizer, modules, pool, fold = setup
    torch.set_num_threads(threads)
    for budget, batch_size, padding_side in ((1, 4, "right"), (10**9, 16, "left")):
        tokenizer.padding_side = padding_side
        try:
            grouped = extract_scores(model, tokenizer, modules, pool, fold, CONCEPTS, batch_size=batch_size,
                                     max_length=64, device="cpu", progress=False, budget_bytes=budget)
        finally:
            tokenizer.padding_side = "right"
        np.testing.assert_allclose(grouped["ap"], result["ap"], atol=1e-6)
        np.testing.assert_allclose(grouped["auroc"], result["auroc"], atol=1e-6)
        np.testing.assert_array_equal(grouped["n_pos"], result["n_pos"])


def test_a_fold_series_equals_its_folds_run_one_by_one(setup):
    """Shared responses (large budget) or none (tiny budget): each fold's scores as if run alone."""
    model, tokenizer, modules, pool, fold = setup
    folds = [fold, make_fold(pool, seed=1), make_fold(pool, seed=2)]
    concepts = CONCEPTS[:4]
    alone = [extract_scores(model, tokenizer, modules, pool, f, concepts, batch_size=8, max_length=64,
                            device="cpu", progress=False) for f in folds]
    n_shared = len(set().union(*(fold_sentence_ids(f, concepts) for f in folds)))
    for budget in (10**9, 1):
        sentences_run = []
        hook = model.register_forward_pre_hook(lambda _m, _a, kw: sentences_run.append(len(kw["input_ids"])),
                                               with_kwargs=True)
        try:
            series = list(extract_fold_series(model, tokenizer, modules, pool, folds, concepts, batch_size=8,
                                              max_length=64, device="cpu", progress=False, budget_bytes=budget))
        finally:
            hook.remove()
        assert len(series) == len(folds)
        for one, other in zip(series, alone):
            np.testing.assert_allclose(one["ap"], other["ap"], atol=1e-6)
            np.testing.assert_allclose(one["auroc"], other["auroc"], atol=1e-6)
        per_fold = sum(len(f["negative_pool"]) + sum(len(f["positives"][c]) for c in concepts) for f in folds)
        assert sum(sentences_run) == (n_shared if budget > 1 else per_fold)


def test_score_files_round_trip(result, tmp_path):
    path = tmp_path / "ap" / "fold0.npz"
    save_scores(path, result)
    assert [p.name for p in path.parent.iterdir()] == ["fold0.npz"]  # no temp file left behind
    concepts, ap = load_scores(path)
    assert concepts == CONCEPTS and ap.dtype == np.float32
    np.testing.assert_array_equal(ap, result["ap"])
    np.testing.assert_array_equal(load_scores(path, "auroc")[1], result["auroc"])
    np.testing.assert_allclose(load_scores(path, "ap_normalized")[1],
                               normalized_ap(result["ap"], result["n_pos"], result["n_neg"]), atol=1e-7)
    with pytest.raises(ValueError, match="score must be"):
        load_scores(path, "f1")


def test_merge_shards_in_order_and_rejects_repeats(result, tmp_path):
    halves = [{key: (value[a:b] if key != "timer" else value) for key, value in result.items()}
              for a, b in ((0, 2), (2, 6))]
    paths = [tmp_path / "shard0.npz", tmp_path / "shard1.npz"]
    for shard, path in zip(halves, paths):
        save_scores(path, shard)
    merged = merge_scores(paths)
    assert merged["concepts"] == CONCEPTS
    np.testing.assert_array_equal(merged["ap"], result["ap"])
    np.testing.assert_array_equal(merged["n_neg"], result["n_neg"])
    with pytest.raises(ValueError, match="more than one shard"):
        merge_scores([paths[0], paths[0]])


def test_bad_inputs_are_named(setup, tmp_path):
    model, tokenizer, modules, pool, fold = setup
    with pytest.raises(ValueError, match="no positives for"):
        extract_scores(model, tokenizer, modules, pool, fold, ["unicorn-n"], device="cpu", progress=False)
    with pytest.raises(ValueError, match="sentence_id"):
        extract_scores(model, tokenizer, modules, pool.iloc[::-1], fold, CONCEPTS[:1], device="cpu", progress=False)
    broken = tmp_path / "broken.npz"
    np.savez(broken, concepts=np.array(["a"]), ap=np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="lacks"):
        read_scores(broken)


def test_score_matrices_are_read_memory_mapped(result, tmp_path):
    """ap and auroc come back as read-only maps into the npz (no copy), equal to what was saved."""
    path = tmp_path / "fold0.npz"
    save_scores(path, result)
    stored = read_scores(path)
    assert isinstance(stored["ap"], np.memmap) and not stored["ap"].flags.writeable
    np.testing.assert_array_equal(stored["ap"], result["ap"])
    np.testing.assert_array_equal(stored["auroc"], result["auroc"])
    concepts, ap = load_scores(path)
    assert isinstance(ap, np.memmap) and concepts == CONCEPTS
    with np.load(path) as plain:  # still an ordinary npz
        np.testing.assert_array_equal(plain["ap"], result["ap"])
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, **{key: np.asarray(result[key]) for key in
                                       ("concepts", "ap", "auroc", "n_pos", "n_neg")})
    np.testing.assert_array_equal(load_scores(compressed)[1], result["ap"])


def test_float16_score_files_are_half_the_size_and_merge_as_float16(result, tmp_path):
    full, half = tmp_path / "full.npz", tmp_path / "half.npz"
    save_scores(full, result)
    save_scores(half, result, dtype="float16")
    matrix_bytes = 2 * np.asarray(result["ap"]).size
    assert full.stat().st_size - half.stat().st_size == 2 * matrix_bytes
    concepts, ap = load_scores(half)
    assert ap.dtype == np.float32 and concepts == CONCEPTS
    np.testing.assert_array_equal(ap, np.asarray(result["ap"]).astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(load_scores(half, "ap_normalized")[1],
                               normalized_ap(ap, result["n_pos"], result["n_neg"]), atol=1e-6)
    assert read_scores(half)["ap"].dtype == np.float16
    assert merge_scores([half])["ap"].dtype == np.float16
    with pytest.raises(ValueError, match="bfloat16"):
        save_scores(tmp_path / "bad.npz", result, dtype="bfloat16")


def test_a_score_file_streamed_row_block_by_row_block_reads_back(tmp_path):
    """benchmarks/paper_scale_analysis.py writes 10 GB score files without holding them: same format."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_scale_analysis.py"
    spec = importlib.util.spec_from_file_location("paper_scale_analysis", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    concepts = [f"c{i}-n" for i in range(7)]
    bench.synthetic_score_file(tmp_path / "s.npz", concepts, n_units=50, seed=3, block=3)
    stored = read_scores(tmp_path / "s.npz")
    assert stored["concepts"] == concepts and stored["ap"].shape == (7, 50) and isinstance(stored["ap"], np.memmap)
    with np.load(tmp_path / "s.npz") as plain:
        np.testing.assert_array_equal(plain["ap"], stored["ap"])
    assert 0 <= stored["ap"].min() and stored["ap"].max() < 1 and not np.array_equal(stored["ap"], stored["auroc"])
