"""Statistics for the analyses: Spearman with bootstrap CIs, partial Spearman, permutation tests,
bootstrap CIs of group means for the figures, and summaries over folds (mean, sd, min-max).

Every function takes plain arrays or DataFrames. Degenerate input (too few observations, constant
values, NaNs) gives NaN results and a logged reason, never an exception, so that one empty expert
set does not stop a whole table. Within a bootstrap, a degenerate resample (its statistic is
undefined, e.g. a constant resample) is skipped and counted; the CI comes from the others.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

log = logging.getLogger(__name__)

#: Bootstrap CI method used everywhere: the percentile interval. BCa needs a jackknife that
#: fails (NaN plus DegenerateDataWarning) on the heavily tied data that Jaccard similarities
#: produce (many pairs at exactly 0); the percentile interval does not.
BOOTSTRAP_METHOD = "percentile"

#: 1 - r^2 below this means z explains x or y completely (rounding leaves ~1e-16).
_PERFECT_FIT_TOLERANCE = 1e-12


def _degenerate_reason(*arrays: np.ndarray, min_n: int) -> str | None:
    """Why paired 1-d samples cannot give a rank correlation, or None when they can."""
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"paired samples differ in length: {sorted(lengths)}")
    n = lengths.pop()
    if n < min_n:
        return f"n={n} < {min_n} observations"
    for i, a in enumerate(arrays):
        if np.isnan(a).any():
            return f"sample {i} holds {int(np.isnan(a).sum())} NaN value(s)"
        if np.all(a == a[0]):
            return f"sample {i} is constant ({a[0]!r})"
    return None


def _as_float_1d(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {array.shape}")
    return array


def _spearman_along_last_axis(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman correlation of x and y along `axis` (ties get average ranks): [batch...]."""
    rx = scipy.stats.rankdata(x, axis=axis)
    ry = scipy.stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    denominator = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=axis) / denominator


def _bootstrap_ci(
    data: tuple[np.ndarray, ...],
    statistic,
    n_resamples: int,
    seed: int,
    confidence_level: float,
    paired: bool,
) -> tuple[float, float, int]:
    """Percentile bootstrap CI of `statistic` over `data`, skipping degenerate resamples.

    The bootstrap distribution comes from scipy.stats.bootstrap; a resample whose statistic is
    not finite (e.g. a Spearman resample with constant similarity) is skipped, and the interval
    is scipy.stats.quantile of the finite resamples at (1 - level) / 2 and (1 + level) / 2, which
    is scipy's own percentile interval when no resample is degenerate.
    Returns (low, high, n_degenerate_resamples); NaN bounds, logged, when no resample is finite.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        result = scipy.stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            paired=paired,
            vectorized=True,
            confidence_level=confidence_level,
            method=BOOTSTRAP_METHOD,
            rng=np.random.default_rng(seed),
        )
    distribution = np.asarray(result.bootstrap_distribution, dtype=np.float64)
    finite = distribution[np.isfinite(distribution)]
    n_degenerate = len(distribution) - len(finite)
    if len(finite) == 0:
        log.warning("bootstrap CI undefined: all %d resamples are degenerate", n_degenerate)
        return np.nan, np.nan, n_degenerate
    if n_degenerate:
        log.info("bootstrap CI over %d finite resamples; %d degenerate ones skipped", len(finite), n_degenerate)
    alpha = (1.0 - confidence_level) / 2.0
    low, high = scipy.stats.quantile(finite, np.array([alpha, 1.0 - alpha]))
    return float(low), float(high), n_degenerate


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Spearman correlation of paired samples x, y [n] (scipy.stats.spearmanr, two-sided p).

    Returns dict(n, spearman, p_value); NaNs with a logged reason when n < 3, x or y is
    constant, or either holds a NaN.
    """
    x = _as_float_1d(x, "x")
    y = _as_float_1d(y, "y")
    reason = _degenerate_reason(x, y, min_n=3)
    if reason is not None:
        log.warning("Spearman undefined: %s", reason)
        return {"n": len(x), "spearman": np.nan, "p_value": np.nan}
    test = scipy.stats.spearmanr(x, y)
    return {"n": len(x), "spearman": float(test.statistic), "p_value": float(test.pvalue)}


def spearman_with_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> dict[str, float]:
    """Spearman correlation of paired samples with a bootstrap CI over pairs.

    x, y: [n] paired observations (e.g. model similarity and MEN score of n concept pairs).
    The estimate and p-value are `spearman`'s. The CI resamples pairs (scipy.stats.bootstrap,
    paired=True) with the *percentile* method, which works with ties; BCa does not (see
    BOOTSTRAP_METHOD). A degenerate resample (x or y constant in it: Spearman undefined) is
    skipped and counted in n_degenerate_resamples; the CI is the percentile interval of the rest.

    Returns dict(n, spearman, p_value, ci_low, ci_high, n_degenerate_resamples); all but n and
    n_degenerate_resamples (0) are NaN, with the reason logged, when n < 3, x or y is constant,
    or either holds a NaN.
    """
    result = {**spearman(x, y), "ci_low": np.nan, "ci_high": np.nan, "n_degenerate_resamples": 0}
    if np.isnan(result["spearman"]):
        return result
    data = (_as_float_1d(x, "x"), _as_float_1d(y, "y"))
    low, high, n_degenerate = _bootstrap_ci(
        data, _spearman_along_last_axis, n_resamples, seed, confidence_level, paired=True
    )
    result.update(ci_low=low, ci_high=high, n_degenerate_resamples=n_degenerate)
    return result


def partial_spearman(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    z: Sequence[float] | np.ndarray,
) -> dict[str, float]:
    """Spearman partial correlation of x and y controlling for z.

    x, y, z: [n] paired observations. All three are rank-transformed (average ranks for ties)
    and the first-order partial correlation formula is applied to the rank correlations:
    r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)); this equals the Pearson
    correlation of the residuals of rank(x) and rank(y) after a linear regression on rank(z).
    p_value: two-sided t-test with n - 3 degrees of freedom.

    Returns dict(partial_spearman, p_value, n); NaNs with a logged reason when n < 4, any input
    is constant or holds a NaN, or z explains x or y perfectly.
    """
    x = _as_float_1d(x, "x")
    y = _as_float_1d(y, "y")
    z = _as_float_1d(z, "z")
    result = {"partial_spearman": np.nan, "p_value": np.nan, "n": len(x)}
    reason = _degenerate_reason(x, y, z, min_n=4)
    if reason is not None:
        log.warning("partial Spearman undefined: %s", reason)
        return result
    r = np.corrcoef(np.vstack([scipy.stats.rankdata(v) for v in (x, y, z)]))
    r_xy, r_xz, r_yz = r[0, 1], r[0, 2], r[1, 2]
    unexplained_x, unexplained_y = 1.0 - r_xz**2, 1.0 - r_yz**2
    if min(unexplained_x, unexplained_y) < _PERFECT_FIT_TOLERANCE:
        log.warning("partial Spearman undefined: z is perfectly rank-correlated with x or y")
        return result
    denominator = np.sqrt(unexplained_x * unexplained_y)
    partial = float(np.clip((r_xy - r_xz * r_yz) / denominator, -1.0, 1.0))
    dof = len(x) - 3
    if abs(partial) == 1.0:
        p_value = 0.0
    else:
        t = partial * np.sqrt(dof / (1.0 - partial**2))
        p_value = float(2.0 * scipy.stats.t.sf(abs(t), dof))
    result.update(partial_spearman=partial, p_value=p_value)
    return result


def _difference_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def permutation_pvalue(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_resamples: int,
    seed: int,
) -> dict[str, float]:
    """Two-sample, two-sided permutation test of mean(a) - mean(b).

    a: [n_a], b: [n_b] independent samples (e.g. real per-domain overlaps vs a baseline's
    per-domain means). scipy.stats.permutation_test with permutation_type="independent"; when
    n_resamples is at least the number of distinct partitions the test is exact.

    Returns dict(statistic=mean(a) - mean(b), p_value); NaNs with a logged reason when either
    sample is empty or holds a NaN.
    """
    a = _as_float_1d(a, "a")
    b = _as_float_1d(b, "b")
    if len(a) == 0 or len(b) == 0 or np.isnan(a).any() or np.isnan(b).any():
        log.warning(
            "permutation test undefined: sizes %d and %d, NaNs present: %s",
            len(a),
            len(b),
            bool(np.isnan(a).any() or np.isnan(b).any()),
        )
        return {"statistic": np.nan, "p_value": np.nan}
    test = scipy.stats.permutation_test(
        (a, b),
        _difference_of_means,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return {"statistic": float(test.statistic), "p_value": float(test.pvalue)}


def _mean_along_axis(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(values, axis=axis)


def _mean_with_ci(
    values: np.ndarray, n_resamples: int, seed: int, confidence_level: float
) -> dict[str, float]:
    """Mean of `values` [n] with a percentile bootstrap CI; NaN CI when n < 2."""
    row = {
        "mean": float(values.mean()) if len(values) else np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "n": len(values),
    }
    if len(values) < 2:
        return row
    if np.all(values == values[0]):
        row.update(ci_low=float(values[0]), ci_high=float(values[0]))
        return row
    low, high, _ = _bootstrap_ci((values,), _mean_along_axis, n_resamples, seed, confidence_level, paired=False)
    row.update(ci_low=low, ci_high=high)
    return row


def mean_ci_table(
    df: pd.DataFrame,
    by: list[str],
    value: str,
    n_resamples: int,
    seed: int,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Mean of `value` per group of `by` with a bootstrap CI of the mean (what the figures plot).

    Columns: by..., mean, ci_low, ci_high, n. NaN values of `value` are left out (n counts the
    values used); a group with fewer than 2 values gets a NaN CI, a constant group a zero-width
    one. CI: scipy.stats.bootstrap, percentile method, the same seed for every group (so a
    group's CI does not depend on which other groups exist). Groups are sorted by `by`.
    """
    missing = [column for column in [*by, value] if column not in df.columns]
    if missing:
        raise ValueError(f"mean_ci_table: column(s) {missing} not in the table (has {list(df.columns)})")
    rows = []
    for key, group in df.groupby(by, sort=True, dropna=False):
        values = group[value].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **_mean_with_ci(values, n_resamples, seed, confidence_level)})
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "n"])


#: The columns fold_summary adds after the group keys (then the carried columns).
FOLD_SUMMARY_COLUMNS = ["mean", "sd", "min", "max", "n_folds"]


def fold_summary(
    df: pd.DataFrame,
    by: list[str],
    value: str,
    *,
    carry: dict[str, str] | None = None,
    fold: str = "fold",
) -> pd.DataFrame:
    """Mean of `value` over folds with the fold-to-fold spread, per group of `by`.

    df: a tidy table with one row per (group, fold). Columns: by..., mean, sd (ddof=1; NaN for
    one fold), min, max, n_folds (folds with a defined value; NaN values are left out), then
    ci_low and ci_high when df has them (the mean over folds of each fold's CI bounds: the CI of
    a typical single fold, not a CI of the fold mean), then each column of `carry` aggregated
    over folds with its pandas aggregation name (e.g. {"n_empty_union": "mean"}).
    ValueError when a column is missing or a group repeats a fold.
    """
    carry = dict(carry or {})
    ci = [c for c in ("ci_low", "ci_high") if c in df.columns]
    missing = [c for c in [*by, fold, value, *carry] if c not in df.columns]
    if missing:
        raise ValueError(f"fold_summary: column(s) {missing} not in the table (has {list(df.columns)})")
    repeated = df.duplicated([*by, fold])
    if repeated.any():
        raise ValueError(
            f"fold_summary: {int(repeated.sum())} row(s) repeat a fold of their group {by}: "
            f"e.g. {df.loc[repeated, [*by, fold]].iloc[0].to_dict()}"
        )
    aggregations = {
        "mean": (value, "mean"),
        "sd": (value, "std"),
        "min": (value, "min"),
        "max": (value, "max"),
        "n_folds": (value, "count"),
        **{c: (c, "mean") for c in ci},
        **{c: (c, how) for c, how in carry.items()},
    }
    summary = df.groupby(by, sort=True, dropna=False).agg(**aggregations).reset_index()
    return summary[[*by, *FOLD_SUMMARY_COLUMNS, *ci, *carry]]
