"""Tests for expertalign.hierarchy on hand-built expert sets with known answers."""

import numpy as np
import pandas as pd
import pytest

from expertalign.hierarchy import (
    baseline1,
    baseline2,
    domain_overlaps,
    hierarchy_overlap,
    hierarchy_table,
    hierarchy_tests,
    pairwise_overlap,
    parse_domains,
)


def _sets(n_units, *members):
    mask = np.zeros((len(members), n_units), dtype=bool)
    for row, units in enumerate(members):
        mask[row, list(units)] = True
    return mask


def test_hierarchy_overlap_is_fifty_percent():
    # subs share units {0, 1, 2, 3}; the super-ordinate has 2 of them (and unrelated unit 9)
    super_set = _sets(10, {0, 1, 9})[0]
    sub_sets = _sets(10, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 5}, {0, 1, 2, 3, 6, 7})
    assert hierarchy_overlap(super_set, sub_sets) == (50.0, False)


def test_hierarchy_overlap_empty_intersection_is_flagged_zero():
    super_set = _sets(6, {0, 1})[0]
    sub_sets = _sets(6, {0, 1}, {2, 3})
    assert hierarchy_overlap(super_set, sub_sets) == (0.0, True)


def test_hierarchy_overlap_bit_packing_handles_odd_unit_counts():
    rng = np.random.default_rng(0)
    mask = rng.random((4, 1003)) < 0.7
    shared = mask[1:].all(axis=0)
    expected = 100.0 * (shared & mask[0]).sum() / shared.sum()
    percent, empty = hierarchy_overlap(mask[0], mask[1:])
    assert percent == pytest.approx(expected) and not empty


def _two_domain_fixture():
    hierarchy = pd.DataFrame(
        {
            "domain": ["animal"] * 3 + ["colour"] * 3,
            "role": ["super", "sub", "sub"] * 2,
            "concept": ["animal-n", "dog-n", "cat-n", "colour-n", "red-n", "blue-n"],
        }
    )
    concepts = ["red-n", "dog-n", "animal-n", "blue-n", "cat-n", "colour-n", "extra-n"]
    members = {
        "animal-n": {0, 1, 2, 3},  # all four shared animal units
        "dog-n": {0, 1, 2, 3, 10},
        "cat-n": {0, 1, 2, 3, 11},
        "colour-n": {4, 20},  # one of the two shared colour units
        "red-n": {4, 5, 12},
        "blue-n": {4, 5, 13},
        "extra-n": set(range(30)),
    }
    mask = _sets(30, *(members[c] for c in concepts))
    return mask, concepts, hierarchy


def test_domain_overlaps_per_domain():
    mask, concepts, hierarchy = _two_domain_fixture()
    table = domain_overlaps(mask, concepts, hierarchy)
    assert table["domain"].tolist() == ["animal", "colour"]
    assert table["overlap"].tolist() == [100.0, 50.0]
    assert table["empty_intersection"].tolist() == [False, False]


def test_baseline2_excluding_own_domain_swaps_sub_ordinates():
    mask, concepts, hierarchy = _two_domain_fixture()
    table = baseline2(mask, concepts, hierarchy, iterations=5, seed=0, exclude_own=True)
    # animal with {red, blue}: shared {4, 5}, none animal -> 0; colour with {dog, cat}: 0
    assert table["baseline2"].tolist() == [0.0, 0.0]


def test_baseline2_including_own_domain_mixes_real_and_swapped():
    mask, concepts, hierarchy = _two_domain_fixture()
    table = baseline2(mask, concepts, hierarchy, iterations=400, seed=1)
    animal = table.set_index("domain").loc["animal", "baseline2"]
    assert 0.0 < animal < 100.0
    assert animal == pytest.approx(50.0, abs=10.0)  # own domain half the time


def test_baseline1_exclude_own_and_bounds():
    mask, concepts, hierarchy = _two_domain_fixture()
    excluded = baseline1(mask, concepts, hierarchy, iterations=20, seed=0, exclude_own=True)
    assert excluded["baseline1"].tolist() == [0.0, 0.0]
    mixed = baseline1(mask, concepts, hierarchy, iterations=300, seed=0)
    # P(draw = own pair) = 1/6 for each domain: animal -> 100/6, colour -> 50/6 in expectation
    assert mixed["baseline1"].tolist() == pytest.approx([100 / 6, 50 / 6], abs=6.0)


def _random_fixture(seed=0, n_domains=4, n_units=400):
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_domains):
        rows.append((f"d{d}", "super", f"s{d}-n"))
        rows += [(f"d{d}", "sub", f"t{d}{i}-n") for i in range(4)]
    hierarchy = pd.DataFrame(rows, columns=["domain", "role", "concept"])
    concepts = hierarchy["concept"].tolist()
    mask = rng.random((len(concepts), n_units)) < 0.6
    return mask, concepts, hierarchy


def test_baselines_reproducible_for_a_seed_and_different_across_seeds():
    mask, concepts, hierarchy = _random_fixture()
    for baseline in (baseline1, baseline2):
        first = baseline(mask, concepts, hierarchy, iterations=10, seed=3)
        again = baseline(mask, concepts, hierarchy, iterations=10, seed=3)
        other = baseline(mask, concepts, hierarchy, iterations=10, seed=4)
        pd.testing.assert_frame_equal(first, again)
        assert not first.equals(other)


def test_hierarchy_table_and_tests_columns_and_significance():
    mask, concepts, hierarchy = _random_fixture(n_domains=6)
    # plant the hierarchy: every super-ordinate holds its sub-ordinates' shared experts
    for d in range(6):
        subs = [concepts.index(f"t{d}{i}-n") for i in range(4)]
        mask[concepts.index(f"s{d}-n")] |= mask[subs].all(axis=0)
    table = hierarchy_table(mask, concepts, hierarchy, iterations=30, seed=0)
    assert list(table.columns) == ["domain", "overlap", "empty_intersection", "baseline1", "baseline2"]
    assert (table["overlap"] == 100.0).all()
    assert (table["baseline1"] < 100.0).all() and (table["baseline2"] < 100.0).all()
    tests = hierarchy_tests(table, n_resamples=2000, seed=0)
    assert list(tests.columns) == ["baseline", "mean_real", "mean_baseline", "statistic", "p_value"]
    assert tests["baseline"].tolist() == ["baseline1", "baseline2"]
    assert (tests["mean_real"] == 100.0).all()
    assert (tests["statistic"] > 0).all() and (tests["p_value"] < 0.01).all()


def test_pairwise_overlap_is_percent_jaccard_in_hierarchy_order():
    mask, concepts, hierarchy = _two_domain_fixture()
    table = pairwise_overlap(mask, concepts, hierarchy)
    assert list(table.columns) == ["concept_a", "concept_b", "domain_a", "domain_b", "overlap"]
    assert len(table) == 36
    assert table["concept_a"].iloc[0] == "animal-n" and table["concept_b"].iloc[1] == "dog-n"
    pair = table[(table.concept_a == "dog-n") & (table.concept_b == "cat-n")].iloc[0]
    assert pair["overlap"] == pytest.approx(100 * 4 / 6)
    assert (pair["domain_a"], pair["domain_b"]) == ("animal", "animal")
    matrix = table.pivot(index="concept_a", columns="concept_b", values="overlap")
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)


def test_missing_concepts_and_malformed_tables_raise():
    mask, concepts, hierarchy = _two_domain_fixture()
    with pytest.raises(ValueError, match="cat-n"):
        domain_overlaps(np.delete(mask, 4, axis=0), [c for c in concepts if c != "cat-n"], hierarchy)
    two_supers = hierarchy.assign(role=["super", "super", "sub", "super", "sub", "sub"])
    with pytest.raises(ValueError, match="animal"):
        parse_domains(two_supers)
    with pytest.raises(ValueError, match="role"):
        parse_domains(hierarchy.drop(columns="role"))
    with pytest.raises(ValueError, match="iterations"):
        baseline1(mask, concepts, hierarchy, iterations=0, seed=0)
