"""Tests for expertalign.stats against direct scipy computations."""

import logging

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from expertalign.stats import mean_ci_table, partial_spearman, permutation_pvalue, spearman_with_ci


def test_spearman_matches_scipy_and_ci_brackets_estimate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    result = spearman_with_ci(x, y, n_resamples=500, seed=1)
    expected = scipy.stats.spearmanr(x, y)
    assert result["n"] == 200
    assert result["spearman"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["ci_low"] < result["spearman"] < result["ci_high"]


def test_spearman_ci_matches_scipy_bootstrap_percentile_with_ties():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=60).astype(float)  # heavy ties, as Jaccard at high tau
    y = x + rng.integers(0, 4, size=60)
    result = spearman_with_ci(x, y, n_resamples=300, seed=7)

    def statistic(a, b):
        return scipy.stats.spearmanr(a, b).statistic

    direct = scipy.stats.bootstrap(
        (x, y),
        statistic,
        paired=True,
        vectorized=False,
        n_resamples=300,
        method="percentile",
        rng=np.random.default_rng(7),
    )
    assert result["ci_low"] == pytest.approx(direct.confidence_interval.low)
    assert result["ci_high"] == pytest.approx(direct.confidence_interval.high)


def test_spearman_is_reproducible_for_a_seed():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 50))
    assert spearman_with_ci(x, y, 200, seed=5) == spearman_with_ci(x, y, 200, seed=5)
    assert spearman_with_ci(x, y, 200, seed=5)["ci_low"] != spearman_with_ci(x, y, 200, seed=6)["ci_low"]


@pytest.mark.parametrize(
    "x, y, reason",
    [
        ([1.0, 2.0], [2.0, 1.0], "n=2"),
        ([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0], "constant"),
        ([1.0, np.nan, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], "NaN"),
    ],
)
def test_spearman_degenerate_input_gives_nans_and_logs(x, y, reason, caplog):
    with caplog.at_level(logging.WARNING, logger="expertalign.stats"):
        result = spearman_with_ci(x, y, n_resamples=100, seed=0)
    assert result["n"] == len(x)
    assert all(np.isnan(result[k]) for k in ("spearman", "p_value", "ci_low", "ci_high"))
    assert reason in caplog.text


def test_spearman_rejects_unpaired_lengths():
    with pytest.raises(ValueError, match="length"):
        spearman_with_ci([1.0, 2.0, 3.0], [1.0, 2.0], n_resamples=10, seed=0)


def _partial_by_residuals(x, y, z):
    """Direct computation: residualise ranks of x and y on rank(z) (lstsq), then Pearson."""
    rx, ry, rz = (scipy.stats.rankdata(v) for v in (x, y, z))
    design = np.column_stack([np.ones_like(rz), rz])
    res_x = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    res_y = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    return scipy.stats.pearsonr(res_x, res_y).statistic


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partial_spearman_matches_residual_computation(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=80)
    x = z + rng.normal(size=80)
    y = z + 0.5 * x + rng.normal(size=80)
    result = partial_spearman(x, y, np.round(z, 1))  # rounding adds ties to z
    assert result["n"] == 80
    assert result["partial_spearman"] == pytest.approx(_partial_by_residuals(x, y, np.round(z, 1)), abs=1e-10)
    assert 0.0 <= result["p_value"] <= 1.0


def test_partial_spearman_removes_a_shared_cause():
    rng = np.random.default_rng(4)
    z = rng.normal(size=2000)
    x = z + 0.3 * rng.normal(size=2000)
    y = z + 0.3 * rng.normal(size=2000)
    assert scipy.stats.spearmanr(x, y).statistic > 0.8
    result = partial_spearman(x, y, z)
    assert abs(result["partial_spearman"]) < 0.1
    assert result["p_value"] > 0.001


def test_partial_spearman_degenerate_input(caplog):
    with caplog.at_level(logging.WARNING, logger="expertalign.stats"):
        constant_z = partial_spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], [1, 1, 1, 1, 1])
        collinear = partial_spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], [10, 20, 30, 40, 50])
    assert np.isnan(constant_z["partial_spearman"]) and np.isnan(constant_z["p_value"])
    assert np.isnan(collinear["partial_spearman"])
    assert "constant" in caplog.text and "perfectly" in caplog.text


def test_permutation_pvalue_matches_scipy():
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 1.0, size=12)
    b = rng.normal(0.0, 1.0, size=15)
    result = permutation_pvalue(a, b, n_resamples=999, seed=3)
    direct = scipy.stats.permutation_test(
        (a, b),
        lambda u, v, axis: u.mean(axis) - v.mean(axis),
        vectorized=True,
        n_resamples=999,
        rng=np.random.default_rng(3),
    )
    assert result["statistic"] == pytest.approx(a.mean() - b.mean())
    assert result["p_value"] == pytest.approx(direct.pvalue)


def test_permutation_pvalue_exact_for_separated_samples():
    # 10 vs 10 fully separated: exact two-sided p = 2 / C(20, 10)
    result = permutation_pvalue(np.arange(10) + 100.0, np.arange(10.0), n_resamples=200_000, seed=0)
    assert result["p_value"] == pytest.approx(2 / 184756)


def test_permutation_pvalue_empty_sample_gives_nan(caplog):
    with caplog.at_level(logging.WARNING, logger="expertalign.stats"):
        result = permutation_pvalue([], [1.0, 2.0], n_resamples=10, seed=0)
    assert np.isnan(result["p_value"]) and "undefined" in caplog.text


def test_mean_ci_table_groups_and_matches_scipy_bootstrap():
    rng = np.random.default_rng(6)
    df = pd.DataFrame(
        {
            "model": ["a"] * 30 + ["b"] * 20 + ["c"],
            "tau": [0.5] * 51,
            "value": np.concatenate([rng.normal(size=30), rng.normal(5, 1, size=20), [3.0]]),
        }
    )
    df.loc[0, "value"] = np.nan  # left out of group a
    table = mean_ci_table(df, by=["model", "tau"], value="value", n_resamples=400, seed=9)
    assert list(table.columns) == ["model", "tau", "mean", "ci_low", "ci_high", "n"]
    assert list(table["model"]) == ["a", "b", "c"]
    group_a = df.loc[df.model == "a", "value"].dropna().to_numpy()
    direct = scipy.stats.bootstrap(
        (group_a,), np.mean, n_resamples=400, method="percentile", rng=np.random.default_rng(9)
    )
    row_a = table.iloc[0]
    assert row_a["n"] == 29 and row_a["mean"] == pytest.approx(group_a.mean())
    assert row_a["ci_low"] == pytest.approx(direct.confidence_interval.low)
    assert row_a["ci_high"] == pytest.approx(direct.confidence_interval.high)
    single = table.iloc[2]
    assert single["n"] == 1 and single["mean"] == 3.0
    assert np.isnan(single["ci_low"]) and np.isnan(single["ci_high"])


def test_mean_ci_table_constant_group_and_missing_column():
    df = pd.DataFrame({"g": ["x", "x", "x"], "v": [0.2, 0.2, 0.2]})
    row = mean_ci_table(df, by=["g"], value="v", n_resamples=50, seed=0).iloc[0]
    assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx((0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match="'w'"):
        mean_ci_table(df, by=["g"], value="w", n_resamples=50, seed=0)


def test_spearman_ci_skips_constant_resamples_and_counts_them():
    # 8 of 10 x values are 0: about 0.8**10 = 11% of the resamples draw only zeros (constant x).
    x = np.array([0.0] * 8 + [1.0, 2.0])
    y = np.arange(10, dtype=float)
    result = spearman_with_ci(x, y, n_resamples=1000, seed=3)

    def statistic(a, b):
        return scipy.stats.spearmanr(a, b).statistic

    with pytest.warns(Warning):
        direct = scipy.stats.bootstrap(
            (x, y), statistic, paired=True, vectorized=False, n_resamples=1000,
            method="percentile", rng=np.random.default_rng(3),
        )
    assert np.isnan(direct.confidence_interval.low)  # scipy's own CI is lost to the NaN resamples
    distribution = direct.bootstrap_distribution
    assert result["n_degenerate_resamples"] == int(np.isnan(distribution).sum()) > 50
    assert result["ci_low"] == pytest.approx(np.nanpercentile(distribution, 2.5))
    assert result["ci_high"] == pytest.approx(np.nanpercentile(distribution, 97.5))
    assert result["ci_low"] <= result["spearman"] <= result["ci_high"]


def test_spearman_ci_without_degenerate_resamples_counts_none():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2, 40))
    assert spearman_with_ci(x, y, n_resamples=200, seed=0)["n_degenerate_resamples"] == 0


def test_fold_summary_gives_mean_spread_and_mean_ci_per_group():
    from expertalign.stats import fold_summary

    df = pd.DataFrame({
        "model": ["a", "a", "a", "b", "b"],
        "fold": [0, 1, 2, 0, 1],
        "spearman": [0.2, 0.4, np.nan, 0.5, 0.5],
        "ci_low": [0.1, 0.3, np.nan, 0.4, 0.2],
        "ci_high": [0.3, 0.5, np.nan, 0.6, 0.8],
        "n_empty_union": [1, 3, 5, 0, 0],
    })
    summary = fold_summary(df, ["model"], "spearman", carry={"n_empty_union": "mean"})
    assert list(summary.columns) == ["model", "mean", "sd", "min", "max", "n_folds", "ci_low", "ci_high",
                                     "n_empty_union"]
    a = summary.set_index("model").loc["a"]
    assert a["mean"] == pytest.approx(0.3) and a["sd"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert (a["min"], a["max"], a["n_folds"]) == (0.2, 0.4, 2)  # the undefined fold is left out
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((0.2, 0.4))
    assert a["n_empty_union"] == pytest.approx(3.0)
    b = summary.set_index("model").loc["b"]
    assert b["sd"] == 0.0 and (b["ci_low"], b["ci_high"]) == pytest.approx((0.3, 0.7))
    with pytest.raises(ValueError, match="repeat a fold"):
        fold_summary(pd.concat([df, df]), ["model"], "spearman")
    with pytest.raises(ValueError, match="not in the table"):
        fold_summary(df, ["checkpoint"], "spearman")
