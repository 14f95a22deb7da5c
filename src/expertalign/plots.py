"""Every figure and table of the paper, drawn from the tidy result tables.

Each ``plot_*`` function takes result tables with the columns of the shared contract, draws ONE
figure, writes it to every path in ``paths`` (a PDF and a PNG of the same figure, see
:func:`save_figure`) and returns the DataFrame of the exact numbers it plotted, one row per
plotted point (or cell), so a test can check the figure against its data.

Figures are built as matplotlib Figure objects rendered by the Agg canvas, without pyplot: no
global backend is set and no figure is left open.

Conventions shared by all figures:
- Checkpoints on the x axis follow ``checkpoint_order`` (training order); checkpoints of the order
  that have no rows are left out, checkpoints in the data but not in the order are an error.
  ``stepN`` checkpoints are labelled ``N`` on an axis titled "training step".
- Every fold is reported: Fig. 2, 5, 6, 8, the heatmaps (Fig. 4) and Table 2 draw the MEAN
  over folds (expertalign.tables fold summaries), with error bars spanning the fold-to-fold
  min-max (FOLD_BARS), and say "n folds = k" in the title. The returned data also carry the
  fold sd and the mean per-fold bootstrap CI. Fig. 7 (layer distribution) still reads ONE fold
  (``fold=None``: the smallest) and names it. Fig. 2, 3 and 8 read alignment_summary.csv and
  Fig. 10 cross_dataset.csv: the summaries the tables rules wrote, never recomputed here.
- Human similarity datasets are facets: Fig. 2, 3 and 8 draw one column of panels per dataset
  (in the ``datasets`` order, config ``datasets.names``; a listed dataset without rows, or rows
  of an unlisted one, is an error), Fig. 10 puts the datasets on the x axis. A dataset's human
  ceiling (``ceilings``: {dataset: float or None}; None = unknown) is a dashed black line
  labelled "human ceiling"; nothing is drawn where it is unknown.
- Figure rules are registered in FIGURES (rule name -> drawing); workflow/scripts/figure.py
  only reads the rule's inputs and calls :func:`draw_figure`.
- One empty-set rule: two empty expert sets count as Jaccard 0 (never dropped), and the data
  returned by Fig. 1 and 6 count them (n_empty_union).
- ``score=None`` requires the table to hold a single score (ap, ap_normalized or auroc);
  the title names the score and tau.
- Error bars where there are no folds to spread over are bootstrap 95% CIs: the embedding
  baselines (Fig. 3: one run per checkpoint, drawn beside the experts' mean per-fold CIs), the
  lexical baseline, and Fig. 1's means over concepts and fold pairs
  (:func:`expertalign.stats.mean_ci_table`). Fig. 10 draws the CI and, where there are several
  folds, the fold min-max behind it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, MaxNLocator

from expertalign import stats, tables
from expertalign.measures import MEASURES

log = logging.getLogger(__name__)

PNG_DPI = 150
SPEARMAN_LABEL = "Spearman ρ with human similarity"
LEXICAL_LABEL = "lexical baseline (sentence words)"
CEILING_LABEL = "human ceiling"
CEILING_STYLE = dict(color="black", linestyle="--", linewidth=1.6, zorder=1.5)
SCORE_NAMES = {"ap": "AP", "ap_normalized": "normalised AP", "auroc": "AUROC"}
#: Figure label of every similarity measure (method) of the alignment tables, in drawing order:
#: expert measures, embedding baselines, lexical (the names of expertalign.measures).
METHOD_LABELS = {name: measure.label for name, measure in MEASURES.items()}  # one registry: expertalign.measures
#: Fig. 8: the expert measures without a threshold, beside Jaccard at one tau
THRESHOLD_FREE_MEASURES = tuple(n for n, m in MEASURES.items() if m.kind == "experts" and not m.thresholded)
#: Fig. 10 style of each kind of method, in drawing order: (seaborn palette, marker, filled).
KIND_STYLES = {"experts": ("Blues", "o", True), "embedding": ("Oranges", "s", False), "lexical": ("Greys", "D", True)}
CROSS_DATASET_GROUP_WIDTH = 0.8  # Fig. 10: horizontal spread of one dataset's points, in x units
LEGEND_INCHES_PER_CHAR = 0.075  # approximate width of one legend character at paper size
LEGEND_HANDLE_INCHES = 0.7  # width of a legend marker plus the gaps around it
DODGE_WIDTH = 0.3  # total horizontal spread of the series drawn at one checkpoint, in x units
FOLD_BARS = "bars: min–max over folds"
_STEP_PATTERN = re.compile(r"^step(\d+)$")

PathLike = str | os.PathLike


# ----------------------------------------------------------------------------- writing figures


def save_figure(fig: Figure, paths: Sequence[PathLike]) -> None:
    """Write ``fig`` to every path, the format taken from its suffix (.pdf, .png, .svg).

    PNGs are rendered at 150 dpi. Each file is written to a temporary file in its own folder and
    moved into place with os.replace, so a reader never sees a half-written figure. PDFs carry no
    creation date, so the same figure gives the same bytes.
    """
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError(f"paths must be a sequence of paths, got the single path {paths!r}")
    if not paths:
        raise ValueError("paths is empty: give at least one output file")
    for path in map(Path, paths):
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("pdf", "png", "svg"):
            raise ValueError(f"cannot tell the figure format of {path}: use .pdf, .png or .svg")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, dpi=PNG_DPI, metadata=_deterministic_metadata(fmt))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("wrote %s", path)


def _deterministic_metadata(fmt: str) -> dict | None:
    """Metadata that drops the creation date where the format stores one."""
    return {"CreationDate": None} if fmt == "pdf" else None


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """Seaborn's white-grid look at paper size, scoped to one figure."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1):
        yield


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """An empty constrained-layout figure of ``figsize`` inches, outside pyplot's registry."""
    return Figure(figsize=figsize, layout="constrained")


# ----------------------------------------------------------------------------- table selection


def _require_columns(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    """Raise ValueError naming the columns of the contract that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{table} table lacks column(s) {missing}; it has {list(df.columns)}")


def _select_value(df: pd.DataFrame, column: str, value, table: str):
    """Rows whose ``column`` equals ``value`` and the value used.

    ``value=None`` requires the column to hold exactly one value and returns all rows.
    """
    present = list(pd.unique(df[column].dropna()))
    if value is None:
        if len(present) != 1:
            raise ValueError(
                f"{table} table holds {column} values {present}; pass {column}= to choose one"
            )
        value = present[0]
    rows = df[df[column] == value]
    if rows.empty:
        raise ValueError(f"{table} table has no rows with {column} == {value!r} (has {present})")
    return rows, value


def _select_fold(df: pd.DataFrame, fold: int | None, table: str) -> tuple[pd.DataFrame, int]:
    """Rows of one fold: ``fold``, or the smallest fold present when None."""
    if fold is None:
        if df.empty:
            raise ValueError(f"{table} table is empty")
        fold = int(df["fold"].min())
    rows = df[df["fold"] == fold]
    if rows.empty:
        raise ValueError(
            f"{table} table has no rows for fold {fold} (has {sorted(df['fold'].unique())})"
        )
    return rows, fold


def _select_tau(df: pd.DataFrame, tau: float, table: str) -> pd.DataFrame:
    """Rows whose tau equals ``tau`` up to float rounding."""
    rows = df[np.isclose(df["tau"].astype(float), tau)]
    if rows.empty:
        raise ValueError(
            f"{table} table has no rows with tau == {tau} (has {sorted(df['tau'].dropna().unique())})"
        )
    return rows


def _select_condition(df: pd.DataFrame, table: str, columns: Sequence[str], model: str, score: str | None,
                      tau: float, checkpoint: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows (every fold) of one model (and ``checkpoint``; None keeps every checkpoint), score and
    tau of a tidy table whose contract ``columns`` are checked first; with the score used."""
    _require_columns(df, columns, table)
    rows, _ = _select_value(df, "model", model, table)
    if checkpoint is not None:
        rows, _ = _select_value(rows, "checkpoint", checkpoint, table)
    rows, score = _select_value(rows, "score", score, table)
    return _select_tau(rows, tau, table), score


def _select_run(df: pd.DataFrame, table: str, columns: Sequence[str], model: str, score: str | None,
                tau: float, fold: int | None, checkpoint: str | None = None) -> tuple[pd.DataFrame, str, int]:
    """_select_condition's rows of ONE fold (None: the smallest), with the score and fold used."""
    rows, score = _select_condition(df, table, columns, model, score, tau, checkpoint)
    rows, fold = _select_fold(rows, fold, table)
    return rows, score, fold


def _n_folds(rows: pd.DataFrame) -> int:
    """Number of distinct folds among ``rows``."""
    return int(rows["fold"].nunique())


def _folds_title(n_folds: int) -> str:
    """Title note of a fold-averaged figure: how many folds and what the error bars show."""
    return f"mean over n folds = {n_folds}, {FOLD_BARS}"


def _checkpoints_present(
    df: pd.DataFrame, checkpoint_order: Sequence[str], table: str, column: str = "checkpoint"
) -> list[str]:
    """The checkpoints of ``checkpoint_order`` that ``df`` holds, in that order.

    Raises ValueError when ``df`` holds a checkpoint missing from the order.
    """
    if len(set(checkpoint_order)) != len(checkpoint_order):
        raise ValueError(f"checkpoint_order repeats a checkpoint: {list(checkpoint_order)}")
    present = set(df[column].astype(str))
    unknown = sorted(present - set(checkpoint_order))
    if unknown:
        raise ValueError(
            f"{table} table holds checkpoint(s) {unknown} missing from checkpoint_order "
            f"{list(checkpoint_order)}"
        )
    return [c for c in checkpoint_order if c in present]


def _sort_by_checkpoint(df: pd.DataFrame, order: Sequence[str], by_first: Sequence[str]) -> pd.DataFrame:
    """``df`` sorted by ``by_first`` then by the position of its checkpoint in ``order``."""
    position = {c: i for i, c in enumerate(order)}
    out = df.assign(_position=df["checkpoint"].map(position))
    return out.sort_values([*by_first, "_position"], kind="stable").drop(columns="_position")


def _mean_ci(
    df: pd.DataFrame, by: list[str], value: str, n_resamples: int, seed: int, table: str
) -> pd.DataFrame:
    """Mean of ``value`` per group with its bootstrap 95% CI (stats.mean_ci_table).

    Undefined (NaN) values are left out of the means and counted in the log; a group with none
    left gets a NaN mean, which the figures draw as a gap.
    Returns DataFrame[by..., mean, ci_low, ci_high, n].
    """
    n_undefined = int(df[value].isna().sum())
    if n_undefined:
        log.info("%s: %d of %d %s values are undefined (NaN) and left out of the means",
                 table, n_undefined, len(df), value)
    return stats.mean_ci_table(df, by=by, value=value, n_resamples=n_resamples, seed=seed,
                               confidence_level=0.95)


# ----------------------------------------------------------------------------- axes helpers


def _checkpoint_tick(checkpoint: str) -> str:
    """Axis label of a checkpoint: ``step143000`` -> ``143000``, other names unchanged."""
    match = _STEP_PATTERN.match(checkpoint)
    return match.group(1) if match else checkpoint


def _checkpoint_axis_label(checkpoints: Sequence[str]) -> str:
    """'training step' when every checkpoint is stepN, else 'checkpoint'."""
    if checkpoints and all(_STEP_PATTERN.match(c) for c in checkpoints):
        return "training step"
    return "checkpoint"


def _score_name(score: str) -> str:
    """Readable name of a score column value (ap -> AP)."""
    return SCORE_NAMES.get(score, score)


def _panel_grid(n_panels: int, max_cols: int = 3, panel_size=(3.6, 3.0)):
    """A figure with ``n_panels`` axes sharing y, in rows of at most ``max_cols``; sizes in inches.

    Returns (figure, list of the used axes); unused grid cells are hidden.
    """
    n_cols = min(n_panels, max_cols)
    n_rows = -(-n_panels // n_cols)
    fig = _new_figure((panel_size[0] * n_cols, panel_size[1] * n_rows + 0.8))
    axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _label_y(axes, label: str) -> None:
    """Name the y axis on the first column only: the panels of a grid share it."""
    for ax in axes:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel(label)


def _dodge_offsets(n_series: int, width: float = DODGE_WIDTH) -> np.ndarray:
    """Horizontal offsets, in x units, that keep ``n_series`` series at one x from overlapping;
    ``width`` is their total spread."""
    if n_series == 1:
        return np.zeros(1)
    return np.linspace(-width / 2, width / 2, n_series)


def _palette(names: Sequence[str]) -> dict[str, tuple]:
    """One colour-blind-safe colour per name, in the given order."""
    return dict(zip(names, sns.color_palette("colorblind", n_colors=max(len(names), 1))))


def _error_bar_lengths(y: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    """[2, n] distances from each point down to low and up to high (NaN where undefined)."""
    return np.vstack([y - low, high - y]).astype(float)


def _draw_series(ax, x, y, low, high, *, color, label, marker="o", linestyle="-") -> None:
    """A line through points with error bars from ``low`` to ``high``."""
    ax.errorbar(x, y, yerr=_error_bar_lengths(y, low, high), color=color, label=label,
                marker=marker, linestyle=linestyle, capsize=3, markersize=5, linewidth=1.3)


def _set_ticks(ax, labels: Sequence[str]) -> None:
    """Ticks at 0..n-1 with ``labels``; rotated when there are many."""
    many = len(labels) > 4
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45 if many else 0, ha="right" if many else "center")
    ax.set_xlim(-0.5, len(labels) - 0.5)


def _set_checkpoint_ticks(ax, checkpoints: Sequence[str]) -> None:
    """Ticks at 0..n-1 labelled with the checkpoints (stepN -> N)."""
    _set_ticks(ax, [_checkpoint_tick(c) for c in checkpoints])


def _figure_legend(fig, axes, extra: Sequence[tuple] = ()) -> None:
    """One legend for the whole figure, below the panels so it covers no data.

    ``extra`` adds (handle, label) pairs after those of the axes. As many columns as fit the
    figure's width.
    """
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    for handle, label in extra:
        entries.setdefault(label, handle)
    if not entries:
        return
    widest = max(len(label) for label in entries) * LEGEND_INCHES_PER_CHAR + LEGEND_HANDLE_INCHES
    n_cols = max(1, min(len(entries), 4, int(fig.get_figwidth() // widest)))
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=n_cols,
               frameon=False)


def _note_if_empty(ax, values: pd.Series, message: str, positive_only: bool = False) -> None:
    """Write ``message`` across the panel when none of ``values`` can be drawn.

    NaN values are never drawn; on a log axis (``positive_only``) neither are values <= 0.
    """
    values = values.astype(float)
    drawable = np.isfinite(values) & ((values > 0) if positive_only else True)
    if not drawable.any():
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
                color="0.4", wrap=True)


def _style_proxy(linestyle: str, marker: str) -> Line2D:
    """A grey legend entry that explains a line style and marker."""
    return Line2D([], [], color="0.3", linestyle=linestyle, marker=marker)


def _tau_title(tau: float) -> str:
    """Panel title of one threshold."""
    return f"τ = {tau:g}"


# ----------------------------------------------------------------------------- Fig. 1


def plot_stability(
    fold_stability: pd.DataFrame,
    path_pdf: PathLike,
    path_png: PathLike,
    *,
    score: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    diversity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fig. 1: stability of expert sets across folds, per positive and negative set size.

    Grid rows = negative_size, columns = positive_size; x = tau; y = mean Jaccard between the
    expert sets of the same concept found on two folds (mean over concepts and fold pairs), with
    its bootstrap 95% CI; one line per model (and checkpoint, when there are several) and, when
    the table's ``source`` column holds several sentence sources, per source, labelled with the
    source's mean type/token ratio from ``diversity`` (sentence_diversity rows).
    Two empty expert sets count as Jaccard 0 (the project's one empty-set rule) and are counted
    in n_empty_union.

    Returns DataFrame[negative_size, positive_size, series, tau, mean, ci_low, ci_high, n,
    n_empty_union].
    """
    table = "fold_stability"
    _require_columns(fold_stability, ["model", "checkpoint", "positive_size", "negative_size",
                                      "score", "tau", "concept", "fold_a", "fold_b", "jaccard",
                                      "empty_union"], table)
    rows, score = _select_value(fold_stability, "score", score, table)
    rows = rows.assign(series=_series_names(rows) + _source_labels(rows, diversity))
    by = ["negative_size", "positive_size", "series", "tau"]
    data = _mean_ci(rows, by, "jaccard", n_resamples, seed, table)
    empty = rows.groupby(by, sort=True)["empty_union"].sum().astype(int).rename("n_empty_union")
    data = data.merge(empty.reset_index(), on=by, how="left").sort_values(by, kind="stable")
    data = data.reset_index(drop=True)

    negative_sizes = sorted(data["negative_size"].unique())
    positive_sizes = sorted(data["positive_size"].unique())
    series = list(pd.unique(rows["series"]))
    colours = _palette(series)
    with _style():
        fig = _new_figure((2.9 * len(positive_sizes) + 0.6, 2.4 * len(negative_sizes) + 1.0))
        axes = fig.subplots(len(negative_sizes), len(positive_sizes), squeeze=False,
                            sharex=True, sharey=True)
        for i, n_neg in enumerate(negative_sizes):
            for j, n_pos in enumerate(positive_sizes):
                ax = axes[i, j]
                cell = data[(data["negative_size"] == n_neg) & (data["positive_size"] == n_pos)]
                for name in series:
                    s = cell[cell["series"] == name]
                    _draw_series(ax, s["tau"], s["mean"], s["ci_low"], s["ci_high"],
                                 color=colours[name], label=name)
                ax.set_title(f"P = {n_pos}, N = {n_neg}")
                if i == len(negative_sizes) - 1:
                    ax.set_xlabel("τ (expert threshold)")
                if j == 0:
                    ax.set_ylabel("Jaccard across folds")
        fig.suptitle(f"Expert-set overlap between folds ({_score_name(score)}); "
                     "rows: negative set size N, columns: positive set size P")
        _figure_legend(fig, axes.ravel())
        save_figure(fig, [path_pdf, path_png])
    return data


def _series_names(df: pd.DataFrame) -> pd.Series:
    """Legend name of each row: the model, plus the checkpoint when a model has several."""
    several = df.groupby("model")["checkpoint"].transform("nunique") > 1
    return df["model"].astype(str).where(~several, df["model"].astype(str) + " @ "
                                         + df["checkpoint"].astype(str))


# ----------------------------------------------------------------------------- Fig. 2, 3, 8, 10


_CORRELATION_COLUMNS = ["spearman", "ci_low", "ci_high"]
_SUMMARY_COLUMNS = ["mean", "sd", "min", "max", "n_folds", "ci_low", "ci_high"]
_ALIGNMENT_SUMMARY_COLUMNS = ["dataset", "model", "checkpoint", "score", "measure", "tau", *_SUMMARY_COLUMNS]


def _datasets_present(df: pd.DataFrame, datasets: Sequence[str] | None, table: str) -> list[str]:
    """The facets of a figure: ``datasets`` in that order (None: the table's, in order of appearance).

    Raises ValueError naming the dataset(s) of ``datasets`` that ``df`` has no rows for, and those
    ``df`` holds that ``datasets`` does not list.
    """
    _require_columns(df, ["dataset"], table)
    present = [str(d) for d in pd.unique(df["dataset"].dropna())]
    if datasets is None:
        if not present:
            raise ValueError(f"{table} table has no rows")
        return present
    datasets = [str(d) for d in datasets]
    if len(set(datasets)) != len(datasets) or not datasets:
        raise ValueError(f"datasets must name each dataset once, got {datasets}")
    missing = [d for d in datasets if d not in present]
    if missing:
        raise ValueError(f"{table} table has no rows for dataset(s) {missing} (has {present})")
    unknown = [d for d in present if d not in datasets]
    if unknown:
        raise ValueError(f"{table} table holds dataset(s) {unknown} missing from datasets {datasets}")
    return datasets


def _ceiling(ceilings: Mapping[str, float | None] | None, dataset: str) -> float | None:
    """The human ceiling of ``dataset`` from ``ceilings`` (None or NaN: unknown, nothing drawn).

    ``ceilings=None`` draws no ceiling anywhere; a mapping must name every dataset drawn.
    """
    if ceilings is None:
        return None
    if dataset not in ceilings:
        raise ValueError(f"ceilings has no entry for dataset {dataset!r} (give None when unknown); "
                         f"it names {list(ceilings)}")
    value = ceilings[dataset]
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _draw_ceiling(ax, ceiling: float | None) -> None:
    """The human ceiling as a dashed black line across the panel, labelled "human ceiling"."""
    if ceiling is None:
        return
    ax.axhline(ceiling, **CEILING_STYLE, label=CEILING_LABEL)
    ax.annotate(f"{CEILING_LABEL} {ceiling:.2f}", xy=(0.02, ceiling), xycoords=("axes fraction", "data"),
                xytext=(0, 2), textcoords="offset points", fontsize=7, va="bottom", color="0.15")


def _ceiling_rows(datasets: Sequence[str], ceilings: Mapping[str, float | None] | None) -> pd.DataFrame:
    """DataFrame[dataset, mean]: the ceiling lines drawn (datasets without a known ceiling left out)."""
    rows = [dict(dataset=d, mean=c) for d in datasets if (c := _ceiling(ceilings, d)) is not None]
    return pd.DataFrame(rows, columns=["dataset", "mean"])


def _facet_grid(n_rows: int, n_cols: int, panel_size=(3.8, 3.0)):
    """A figure of ``n_rows`` x ``n_cols`` axes sharing y (one column per dataset)."""
    fig = _new_figure((panel_size[0] * n_cols + 0.4, panel_size[1] * n_rows + 1.2))
    return fig, fig.subplots(n_rows, n_cols, sharey=True, squeeze=False)


def _finish_facet(ax, means: pd.Series, checkpoints: Sequence[str], title: str, bottom_row: bool) -> None:
    """Checkpoint ticks, title and (bottom row only) x label of one dataset-facet panel of Fig. 2, 3
    or 8; a note when every plotted correlation (``means``) is undefined."""
    _note_if_empty(ax, means, "Spearman ρ undefined\nat every checkpoint")
    _set_checkpoint_ticks(ax, checkpoints)
    ax.set_title(title)
    if bottom_row:
        ax.set_xlabel(_checkpoint_axis_label(checkpoints))


def _summary_rows(summary: pd.DataFrame, score: str | None) -> tuple[pd.DataFrame, str]:
    """alignment_summary rows of one score (its contract columns checked), with the score used."""
    table = "alignment_summary"
    _require_columns(summary, _ALIGNMENT_SUMMARY_COLUMNS, table)
    return _select_value(summary, "score", score, table)


def _max_folds(rows: pd.DataFrame) -> int:
    """The largest fold count among summary rows (their n_folds column)."""
    folds = rows["n_folds"].dropna()
    return int(folds.max()) if len(folds) else 0


def _draw_by_checkpoint(ax, rows: pd.DataFrame, checkpoints: Sequence[str], series_column: str,
                        colours: dict, linestyle: str = "-", marker: str = "o",
                        labelled: bool = True, bars: tuple[str, str, str] = ("mean", "min", "max"),
                        label_suffix: str = "", dodge: float = DODGE_WIDTH,
                        styles: Mapping[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """One dodged line per value of ``series_column`` over the checkpoint axis, with error bars.

    ``bars`` names the (point, bar low, bar high) columns of ``rows``: by default a fold summary's
    mean with its fold min-max. ``labelled=False`` keeps the lines out of the legend; ``dodge`` is
    the total horizontal spread of the series at one checkpoint; ``styles`` maps a series to its
    (linestyle, marker). Series are drawn in the order of ``colours``. Returns the plotted rows
    with their x.
    """
    point, low, high = bars
    position = {c: i for i, c in enumerate(checkpoints)}
    names = [n for n in colours if n in set(rows[series_column])]
    offsets = dict(zip(names, _dodge_offsets(len(names), dodge)))
    plotted = []
    for name in names:
        s = _sort_by_checkpoint(rows[rows[series_column] == name], checkpoints, [])
        x = s["checkpoint"].map(position) + offsets[name]
        line, mark = (styles or {}).get(name, (linestyle, marker))
        _draw_series(ax, x, s[point], s[low], s[high], color=colours[name],
                     label=f"{name}{label_suffix}" if labelled else "_nolegend_", linestyle=line,
                     marker=mark)
        plotted.append(s.assign(x=x))
    return pd.concat(plotted) if plotted else rows.assign(x=np.nan).iloc[:0]


def _lexical_rows(lexical: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """The lexical_baseline rows of ``datasets`` (each must have some), columns checked."""
    table = "lexical_baseline"
    _require_columns(lexical, ["dataset", "weighting", *_CORRELATION_COLUMNS], table)
    present = set(lexical["dataset"].astype(str))
    missing = [d for d in datasets if d not in present]
    if missing:
        raise ValueError(f"{table} table has no rows for dataset(s) {missing} (has {sorted(present)})")
    return lexical[lexical["dataset"].astype(str).isin(datasets)]


def _draw_lexical(ax, lexical: pd.DataFrame) -> None:
    """Each lexical-baseline Spearman as a dashed grey line across the panel over its shaded CI."""
    several = len(lexical) > 1
    for k, (_, row) in enumerate(lexical.iterrows()):
        colour = sns.color_palette("Greys", n_colors=len(lexical) + 3)[k + 2]
        label = f"{LEXICAL_LABEL}, {row['weighting']}" if several else LEXICAL_LABEL
        ax.axhline(row["spearman"], color=colour, linestyle=":", linewidth=1.4,
                   label=f"{label} (band: bootstrap 95% CI)")
        if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
            ax.axhspan(row["ci_low"], row["ci_high"], color=colour, alpha=0.15, linewidth=0)


def plot_alignment(
    alignment_summary: pd.DataFrame,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    lexical: pd.DataFrame | None = None,
    *,
    datasets: Sequence[str] | None = None,
    ceilings: Mapping[str, float | None] | None = None,
    score: str | None = None,
) -> pd.DataFrame:
    """Fig. 2: Spearman ρ between expert-set Jaccard and human similarity, per dataset, tau and
    checkpoint.

    Reads alignment_summary.csv (tables.alignment_summary: one row per dataset, model,
    checkpoint, score, measure and tau, summarised over folds). One column of panels per dataset
    (in ``datasets`` order; None: the table's), one row per tau; x = checkpoint (in
    ``checkpoint_order``); y = mean Spearman ρ over folds, error bars from the fold min to the fold
    max; one line per model; rows with measure == "jaccard" of one score. ``ceilings``
    ({dataset: ceiling or None}) adds the dataset's human ceiling as a dashed black line labelled
    "human ceiling" (None: none drawn). ``lexical`` (lexical_baseline rows with a dataset column,
    one run, no folds) adds each dataset's lexical baseline as a dotted grey line over its shaded
    bootstrap CI in that dataset's panels. NaN correlations leave gaps.

    Returns DataFrame[kind, dataset, model, checkpoint, tau, x, mean, sd, min, max, n_folds,
    ci_low, ci_high]: kind is "expert jaccard" for the points, "lexical baseline" and "human
    ceiling" for the lines (mean = the line's y; tau, x and the fold columns NaN).
    """
    summary, score = _summary_rows(alignment_summary, score)
    rows = summary[summary["measure"] == "jaccard"]
    if rows.empty:
        raise ValueError("alignment_summary table has no rows with measure == 'jaccard'")
    datasets = _datasets_present(rows, datasets, "alignment_summary (measure jaccard)")
    if lexical is not None:
        lexical = _lexical_rows(lexical, datasets)
    checkpoints = _checkpoints_present(rows, checkpoint_order, "alignment_summary")
    taus = sorted(rows["tau"].unique())
    colours = _palette(list(pd.unique(rows["model"])))
    plotted = []
    with _style():
        fig, grid = _facet_grid(len(taus), len(datasets))
        for j, dataset in enumerate(datasets):
            facet = rows[rows["dataset"] == dataset]
            for i, tau in enumerate(taus):
                ax = grid[i, j]
                panel = facet[np.isclose(facet["tau"].astype(float), tau)]
                if lexical is not None:
                    _draw_lexical(ax, lexical[lexical["dataset"] == dataset])
                _draw_ceiling(ax, _ceiling(ceilings, dataset))
                plotted.append(_draw_by_checkpoint(ax, panel, checkpoints, "model", colours))
                _finish_facet(ax, panel["mean"], checkpoints, f"{dataset} · {_tau_title(tau)}", i == len(taus) - 1)
        axes = list(grid.ravel())
        _label_y(axes, SPEARMAN_LABEL)
        fig.suptitle(f"Alignment of expert sets with human similarity: Jaccard over {_score_name(score)} "
                     f"experts (score > τ); one column per dataset\n{_folds_title(_max_folds(rows))}")
        _figure_legend(fig, axes)
        save_figure(fig, paths)
    points = pd.concat(plotted).assign(kind="expert jaccard")
    columns = ["kind", "dataset", "model", "checkpoint", "tau", "x", *_SUMMARY_COLUMNS]
    lines = []
    if lexical is not None:
        lines.append(lexical.assign(kind="lexical baseline", model=LEXICAL_LABEL, mean=lexical["spearman"]))
    lines.append(_ceiling_rows(datasets, ceilings).assign(kind="human ceiling"))
    return pd.concat([points, *lines]).reindex(columns=columns).reset_index(drop=True)


def _method_label(method: str, tau: float | None = None) -> str:
    """Figure label of a measure or baseline; a thresholded measure names its tau."""
    label = METHOD_LABELS.get(method, method)
    return f"{label} (τ = {tau:g})" if tau is not None and np.isfinite(tau) else label


def _method_rank(method: str) -> int:
    """Position of a method in METHOD_LABELS (experts, embeddings, lexical); unknown ones last."""
    order = list(METHOD_LABELS)
    return order.index(method) if method in order else len(order)


def _embedding_series(embedding: pd.DataFrame) -> pd.DataFrame:
    """embedding_baseline rows with ``label``: the baseline's name, plus its pooling when that
    baseline was run with several; rows in baseline order (word, word_space, contextual,
    sentence_pool, then others in table order)."""
    several = embedding.groupby("baseline")["pooling"].transform("nunique") > 1
    labels = embedding["baseline"].map(_method_label)
    labels = labels.where(~several, labels + ", " + embedding["pooling"].astype(str) + " pooling")
    out = embedding.assign(label=labels, _rank=embedding["baseline"].map(_method_rank))
    return out.sort_values("_rank", kind="stable").drop(columns="_rank")


def plot_embedding_baseline(
    embedding: pd.DataFrame,
    alignment_summary: pd.DataFrame,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    *,
    datasets: Sequence[str] | None = None,
    ceilings: Mapping[str, float | None] | None = None,
    tau: float = 0.5,
    score: str | None = None,
) -> pd.DataFrame:
    """Fig. 3: Spearman ρ with human similarity of the expert measures against each embedding
    baseline, per dataset, model and checkpoint.

    One column of panels per dataset (``datasets`` order; None: the alignment table's), one row
    per model; x = checkpoint. Solid lines, filled markers: the experts' expert-set Jaccard at
    ``tau`` and cosine (alignment_summary.csv of one score: mean over folds, bars = the mean of
    the folds' bootstrap 95% CIs). Dashed lines, open squares: each embedding baseline of
    embedding_baseline.csv (``baseline`` column: word, word_space where present, contextual,
    sentence_pool; one run per checkpoint, no folds, bars = its bootstrap 95% CI); a baseline run
    with several poolings gets a line per pooling. ``ceilings`` adds the dataset's human ceiling.

    Returns DataFrame[kind, method, label, pooling, dataset, model, checkpoint, x, mean, ci_low,
    ci_high, n_folds]: kind "experts" (pooling NaN), "embedding" (n_folds NaN) or "human ceiling"
    (mean = the line's y).
    """
    _require_columns(embedding, ["dataset", "model", "checkpoint", "baseline", "pooling",
                                 *_CORRELATION_COLUMNS], "embedding_baseline")
    summary, score = _summary_rows(alignment_summary, score)
    jaccard = _select_tau(summary[summary["measure"] == "jaccard"], tau, "alignment_summary")
    experts = pd.concat([jaccard, summary[summary["measure"] == "cosine"]])
    datasets = _datasets_present(experts, datasets, "alignment_summary (jaccard and cosine)")
    _datasets_present(embedding, datasets, "embedding_baseline")
    experts = experts.assign(kind="experts", method=experts["measure"], pooling=np.nan,
                             label=[_method_label(m, t) for m, t in zip(experts["measure"], experts["tau"])])
    series = _embedding_series(embedding)
    baselines = series.assign(kind="embedding", method=series["baseline"], mean=series["spearman"], n_folds=np.nan)
    rows = pd.concat([experts, baselines], ignore_index=True)
    checkpoints = _checkpoints_present(rows, checkpoint_order, "embedding_baseline and alignment_summary")
    models = list(pd.unique(rows["model"]))
    labels = list(pd.unique(rows["label"]))
    colours = _palette(labels)
    styles = {label: ("-", "o") if kind == "experts" else ("--", "s")
              for label, kind in zip(rows["label"], rows["kind"])}
    bars = ("mean", "ci_low", "ci_high")
    plotted = []
    with _style():
        fig, grid = _facet_grid(len(models), len(datasets), panel_size=(4.6, 3.2))
        for j, dataset in enumerate(datasets):
            for i, model in enumerate(models):
                ax = grid[i, j]
                panel = rows[(rows["dataset"] == dataset) & (rows["model"] == model)]
                _draw_ceiling(ax, _ceiling(ceilings, dataset))
                drawn = _draw_by_checkpoint(ax, panel, checkpoints, "label", colours, bars=bars, dodge=0.5,
                                            styles=styles)
                plotted.append(drawn)
                _finish_facet(ax, panel["mean"], checkpoints, f"{dataset} · {model}", i == len(models) - 1)
        axes = list(grid.ravel())
        _label_y(axes, SPEARMAN_LABEL)
        kinds = [(_style_proxy("-", "o"), f"experts ({_score_name(score)}): mean of "
                                          f"{_max_folds(experts)} folds, bars: mean of the folds' 95% CIs"),
                 (_style_proxy("--", "s"), "embedding baseline: one run (no folds), bars: bootstrap 95% CI")]
        fig.suptitle(f"Expert neurons vs embedding baselines, one column per dataset\n"
                     f"({_score_name(score)} experts, Jaccard at τ = {tau:g}, n folds = {_max_folds(experts)})")
        _figure_legend(fig, axes, extra=kinds)
        save_figure(fig, paths)
    columns = ["kind", "method", "label", "pooling", "dataset", "model", "checkpoint", "x", "mean", "ci_low",
               "ci_high", "n_folds"]
    ceiling = _ceiling_rows(datasets, ceilings).assign(kind="human ceiling", label=CEILING_LABEL)
    return pd.concat([*plotted, ceiling]).reindex(columns=columns).reset_index(drop=True)


def plot_cosine_variants(
    alignment_summary: pd.DataFrame,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    *,
    datasets: Sequence[str] | None = None,
    ceilings: Mapping[str, float | None] | None = None,
    tau: float = 0.5,
    score: str | None = None,
) -> pd.DataFrame:
    """Fig. 8: the threshold-free expert measures (cosine over raw scores, cosine over score − its
    chance centre, 1 − Hellinger² of the above-chance score mass) beside Jaccard at ``tau``.

    Reads alignment_summary.csv. One column of panels per dataset (``datasets`` order; None: the
    table's), one row per model; x = checkpoint; y = mean Spearman ρ with the dataset's human
    similarity over folds, with fold min-max bars; one line per measure present, of one score (the
    title says how many folds); ``ceilings`` adds the dataset's human ceiling.

    Returns DataFrame[dataset, model, measure, checkpoint, x, mean, sd, min, max, n_folds, ci_low,
    ci_high]; measure "human ceiling" rows give the ceiling lines (mean = their y).
    """
    summary, score = _summary_rows(alignment_summary, score)
    free = summary[summary["measure"].isin(THRESHOLD_FREE_MEASURES)]
    jaccard = _select_tau(summary[summary["measure"] == "jaccard"], tau, "alignment_summary")
    rows = pd.concat([free, jaccard])
    datasets = _datasets_present(rows, datasets, "alignment_summary (expert measures)")
    checkpoints = _checkpoints_present(rows, checkpoint_order, "alignment_summary")
    models = list(pd.unique(rows["model"]))
    names = {m: _method_label(m, tau if m == "jaccard" else None) for m in [*THRESHOLD_FREE_MEASURES, "jaccard"]}
    rows = rows.assign(measure_name=rows["measure"].map(names))
    colours = _palette([names[m] for m in names if m in set(rows["measure"])])
    plotted = []
    with _style():
        fig, grid = _facet_grid(len(models), len(datasets))
        for j, dataset in enumerate(datasets):
            for i, model in enumerate(models):
                ax = grid[i, j]
                panel = rows[(rows["dataset"] == dataset) & (rows["model"] == model)]
                _draw_ceiling(ax, _ceiling(ceilings, dataset))
                plotted.append(_draw_by_checkpoint(ax, panel, checkpoints, "measure_name", colours))
                _finish_facet(ax, panel["mean"], checkpoints, f"{dataset} · {model}", i == len(models) - 1)
        axes = list(grid.ravel())
        _label_y(axes, SPEARMAN_LABEL)
        fig.suptitle(f"Similarity measures over {_score_name(score)} vectors of all units, one column per "
                     f"dataset\n{_folds_title(_max_folds(rows))}")
        _figure_legend(fig, axes)
        save_figure(fig, paths)
    columns = ["dataset", "model", "measure", "checkpoint", "x", *_SUMMARY_COLUMNS]
    ceiling = _ceiling_rows(datasets, ceilings).assign(measure=CEILING_LABEL)
    return pd.concat([*plotted, ceiling]).reindex(columns=columns).reset_index(drop=True)


_CROSS_DATASET_COLUMNS = ["dataset", "ceiling", "model", "checkpoint", "kind", "method", "tau", "mean", "sd",
                          "min", "max", "n_folds", "ci_low", "ci_high"]


def _cross_dataset_methods(rows: pd.DataFrame) -> pd.DataFrame:
    """DataFrame[kind, method, tau, label] of the methods in ``rows``: experts first, then
    embedding baselines, then lexical, each in METHOD_LABELS order (unknown methods last)."""
    unknown = sorted(set(rows["kind"]) - set(KIND_STYLES))
    if unknown:
        raise ValueError(f"cross_dataset table holds kind(s) {unknown}; known: {list(KIND_STYLES)}")
    methods = rows[["kind", "method", "tau"]].drop_duplicates(["kind", "method"])
    taus = rows.groupby(["kind", "method"])["tau"].nunique()
    several = taus[taus > 1]
    if len(several):
        raise ValueError(f"cross_dataset table holds several taus for {list(several.index)}: one tau per method")
    methods = methods.assign(_kind=methods["kind"].map(list(KIND_STYLES).index),
                             _method=methods["method"].map(_method_rank))
    methods = methods.sort_values(["_kind", "_method"], kind="stable")
    labels = [_method_label(m, t) for m, t in zip(methods["method"], methods["tau"].astype(float))]
    return methods.assign(label=labels)[["kind", "method", "tau", "label"]].reset_index(drop=True)


def _method_colours(methods: pd.DataFrame) -> dict[str, tuple]:
    """One colour per method label: experts in blues, embedding baselines in oranges, lexical grey."""
    colours = {}
    for kind, (palette, _, _) in KIND_STYLES.items():
        labels = list(methods.loc[methods["kind"] == kind, "label"])
        shades = sns.color_palette(palette, n_colors=len(labels) + 2)[2:][::-1] if labels else []
        colours.update(zip(labels, shades))
    return colours


def _dataset_ceilings(rows: pd.DataFrame, datasets: Sequence[str]) -> dict[str, float | None]:
    """{dataset: ceiling or None} from the table's ceiling column (one value per dataset)."""
    out = {}
    for dataset in datasets:
        values = pd.unique(rows.loc[rows["dataset"] == dataset, "ceiling"].astype(float).dropna())
        if len(values) > 1:
            raise ValueError(f"cross_dataset table gives dataset {dataset!r} several ceilings: {sorted(values)}")
        out[dataset] = float(values[0]) if len(values) else None
    return out


def plot_cross_dataset(
    cross_dataset: pd.DataFrame,
    paths: Sequence[PathLike],
    datasets: Sequence[str] | None,
    checkpoint_order: Sequence[str],
    *,
    checkpoints: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fig. 10: alignment with every human dataset, experts against every baseline.

    Reads cross_dataset.csv (expertalign.tables). One panel per model and checkpoint (models in
    table order, checkpoints in ``checkpoint_order``; ``checkpoints`` keeps only those); x = the
    datasets (``datasets`` order; None: the table's); at each dataset one point per method, experts
    first (filled circles, blues), then the embedding baselines (open squares, oranges), then the
    lexical baseline (grey diamond); y = mean Spearman ρ (over folds for the experts), thin error
    bars = bootstrap 95% CI (ci_low..ci_high), a thick pale bar behind = the min-max over folds
    where n_folds > 1; a short dashed black line over each dataset's group = its human ceiling (the
    table's ceiling column; none where it is empty). Experts above the oranges on every dataset
    reads as "expert alignment >= embeddings".

    Returns DataFrame[model, checkpoint, dataset, kind, method, label, tau, x, mean, ci_low,
    ci_high, min, max, n_folds, ceiling]: one row per plotted point, panels in drawing order.
    """
    table = "cross_dataset"
    _require_columns(cross_dataset, _CROSS_DATASET_COLUMNS, table)
    rows = cross_dataset
    if checkpoints is not None:
        unknown = sorted(set(checkpoints) - set(rows["checkpoint"].astype(str)))
        if unknown:
            raise ValueError(f"{table} table has no rows for checkpoint(s) {unknown}")
        rows = rows[rows["checkpoint"].astype(str).isin(list(checkpoints))]
    datasets = _datasets_present(rows, datasets, table)
    order = _checkpoints_present(rows, checkpoint_order, table)
    repeated = rows.duplicated(["model", "checkpoint", "dataset", "kind", "method"])
    if repeated.any():
        first = rows.loc[repeated, ["model", "checkpoint", "dataset", "method"]].iloc[0].tolist()
        raise ValueError(f"{table} table repeats (model, checkpoint, dataset, method) {first}")
    methods = _cross_dataset_methods(rows)
    ceilings = _dataset_ceilings(rows, datasets)
    rows = rows.merge(methods[["kind", "method", "label"]], on=["kind", "method"])
    position = {d: i for i, d in enumerate(datasets)}
    width = CROSS_DATASET_GROUP_WIDTH
    step = width / len(methods)
    offset = dict(zip(methods["label"], -width / 2 + step / 2 + step * np.arange(len(methods))))
    rows = rows.assign(x=rows["dataset"].map(position) + rows["label"].map(offset))
    panels = [(m, c) for m in pd.unique(rows["model"]) for c in order
              if ((rows["model"] == m) & (rows["checkpoint"] == c)).any()]
    colours = _method_colours(methods)
    plotted = []
    with _style():
        fig, axes = _panel_grid(len(panels), max_cols=3, panel_size=(1.6 + 1.3 * len(datasets), 3.4))
        for ax, (model, checkpoint) in zip(axes, panels):
            panel = rows[(rows["model"] == model) & (rows["checkpoint"] == checkpoint)]
            for dataset in datasets:
                if ceilings[dataset] is not None:
                    x0 = position[dataset]
                    ax.hlines(ceilings[dataset], x0 - width / 2 - 0.05, x0 + width / 2 + 0.05,
                              label=CEILING_LABEL, **CEILING_STYLE)
            for method in methods.itertuples(index=False):
                s = panel[panel["label"] == method.label].sort_values("x")
                _draw_cross_dataset_points(ax, s, method.kind, method.label, colours[method.label])
                plotted.append(s)
            _note_if_empty(ax, panel["mean"], "Spearman ρ undefined\nfor every method")
            _set_ticks(ax, datasets)
            ax.grid(False, axis="x")
            for boundary in np.arange(0.5, len(datasets) - 1):
                ax.axvline(boundary, color="0.85", linewidth=0.8, zorder=0)
            ax.set_title(f"{model} @ {checkpoint}")
            ax.set_xlabel("human similarity dataset")
        _label_y(axes, SPEARMAN_LABEL)
        extra = [(Line2D([], [], color="0.3", linewidth=5, alpha=0.35), "pale bar: min–max over folds"),
                 (Line2D([], [], color="0.3", linewidth=1), "thin bar: bootstrap 95% CI")]
        fig.suptitle("Alignment with human similarity across datasets: expert neurons (blues) vs embedding "
                     "(oranges) and lexical (grey) baselines")
        _figure_legend(fig, axes, extra=extra)
        save_figure(fig, paths)
    data = pd.concat(plotted).assign(ceiling=lambda d: d["dataset"].map(ceilings).astype(float))
    columns = ["model", "checkpoint", "dataset", "kind", "method", "label", "tau", "x", "mean", "ci_low", "ci_high",
               "min", "max", "n_folds", "ceiling"]
    return data[columns].reset_index(drop=True)


def _draw_cross_dataset_points(ax, s: pd.DataFrame, kind: str, label: str, colour) -> None:
    """Fig. 10: one method's points over the datasets, its fold range (n_folds > 1) as a pale
    thick bar behind its CI bar."""
    _, marker, filled = KIND_STYLES[kind]
    spread = s[s["n_folds"].fillna(1) > 1]
    if len(spread):
        ax.vlines(spread["x"], spread["min"], spread["max"], color=colour, linewidth=5, alpha=0.35, zorder=2)
    ax.errorbar(s["x"], s["mean"], yerr=_error_bar_lengths(s["mean"], s["ci_low"], s["ci_high"]),
                fmt=marker, color=colour, markerfacecolor=colour if filled else "white", markeredgecolor=colour,
                label=label, capsize=2, markersize=5, linewidth=1.0, zorder=3)


# ----------------------------------------------------------------------------- Fig. 5, 6


def _plot_mean_by_checkpoint(
    rows: pd.DataFrame, x_column: str, x_order: Sequence[str], value: str, *, ylabel: str,
    xlabel: str, title: str, tick_labels: Sequence[str], paths: Sequence[PathLike],
    n_resamples: int, seed: int, empty_message: str, log_scale: bool = False,
    flag: str | None = None,
) -> pd.DataFrame:
    """Panels = tau, x = ``x_column`` in ``x_order``, y = per model the mean over folds of the
    mean of ``value`` over concepts, with fold min-max bars (tables.concept_mean_summary).

    ``tick_labels`` names the x positions (one per entry of ``x_order``); ``empty_message`` is
    written across a panel with nothing to draw; ``flag`` (a boolean column, e.g. empty_union)
    is counted per fold into n_<flag>. The title gets "n folds = k" appended.

    Returns DataFrame[tau, model, x_column, x, mean, sd, min, max, n_folds, ci_low, ci_high,
    n_concepts(, n_<flag>)].
    """
    by = ["tau", "model", x_column]
    data = tables.concept_mean_summary(rows, by, value, n_resamples=n_resamples, seed=seed, flag=flag)
    position = {c: i for i, c in enumerate(x_order)}
    models = list(pd.unique(rows["model"]))
    colours = _palette(models)
    offsets = dict(zip(models, _dodge_offsets(len(models))))
    data = data.assign(x=data[x_column].map(position) + data["model"].map(offsets))
    data = data.sort_values(["tau", "model", "x"], key=_model_order_key(models), kind="stable")
    taus = sorted(data["tau"].unique())
    with _style():
        fig, axes = _panel_grid(len(taus))
        for ax, tau in zip(axes, taus):
            panel = data[np.isclose(data["tau"], tau)]
            for model in models:
                s = panel[panel["model"] == model]
                _draw_series(ax, s["x"], s["mean"], s["min"], s["max"],
                             color=colours[model], label=model)
            _note_if_empty(ax, panel["mean"], empty_message, positive_only=log_scale)
            if log_scale:
                ax.set_yscale("log", nonpositive="mask")
                ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
                ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
            _set_ticks(ax, tick_labels)
            ax.set_title(_tau_title(tau))
            ax.set_xlabel(xlabel)
        _label_y(axes, ylabel)
        fig.suptitle(f"{title}\n{_folds_title(_n_folds(rows))}")
        _figure_legend(fig, axes)
        save_figure(fig, paths)
    flags = [f"n_{flag}"] if flag else []
    return data[[*by, "x", *_SUMMARY_COLUMNS, "n_concepts", *flags]].reset_index(drop=True)


def _model_order_key(models: Sequence[str]):
    """Sort key for DataFrame.sort_values that orders the model column as ``models``."""
    rank = {m: i for i, m in enumerate(models)}

    def key(column: pd.Series) -> pd.Series:
        return column.map(rank) if column.name == "model" else column

    return key


def plot_expert_counts(
    expert_counts: pd.DataFrame,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    normalised: bool = False,
    *,
    score: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fig. 5: mean expert-set size per concept (log scale), per tau, model and checkpoint.

    Panels = tau; x = checkpoint; y = mean over folds of the mean over concepts of n_experts
    (or, with ``normalised=True``, of fraction = n_experts / n_units), bars = fold min-max; one
    line per model; one score; the title says how many folds. A mean of 0 cannot be drawn on
    the log axis and is left out of the figure (it stays in the returned data).

    Returns DataFrame[tau, model, checkpoint, x, mean, sd, min, max, n_folds, ci_low, ci_high,
    n_concepts] (ci: the mean per-fold bootstrap CI over concepts).
    """
    table = "expert_counts"
    _require_columns(expert_counts, ["model", "checkpoint", "fold", "score", "tau", "concept",
                                     "n_experts", "n_units", "fraction"], table)
    rows, score = _select_value(expert_counts, "score", score, table)
    checkpoints = _checkpoints_present(rows, checkpoint_order, table)
    value = "fraction" if normalised else "n_experts"
    ylabel = ("fraction of units that are experts (log scale)" if normalised
              else "experts per concept (log scale)")
    return _plot_mean_by_checkpoint(
        rows, "checkpoint", checkpoints, value,
        ylabel=ylabel, xlabel=_checkpoint_axis_label(checkpoints), log_scale=True,
        empty_message="no experts at this τ\n(mean 0 cannot be drawn on a log axis)",
        title=f"Expert-set size: units with {_score_name(score)} > τ, mean over concepts",
        tick_labels=[_checkpoint_tick(c) for c in checkpoints],
        paths=paths, n_resamples=n_resamples, seed=seed,
    )


def plot_checkpoint_stability(
    checkpoint_stability: pd.DataFrame,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    *,
    score: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fig. 6: overlap of a concept's expert sets at consecutive checkpoints.

    Panels = tau; x = transition "a→b" (ordered by a's place in ``checkpoint_order``); y = mean
    over folds of the mean over concepts of Jaccard(E_a(c), E_b(c)), bars = fold min-max; one
    line per model; one score; the title says how many folds. Two empty sets count as Jaccard 0
    (the one empty-set rule) and are counted per fold in n_empty_union.

    Returns DataFrame[tau, model, transition, x, mean, sd, min, max, n_folds, ci_low, ci_high,
    n_concepts, n_empty_union].
    """
    table = "checkpoint_stability"
    _require_columns(checkpoint_stability, ["model", "checkpoint", "next_checkpoint", "fold",
                                            "score", "tau", "concept", "jaccard", "empty_union"], table)
    rows, score = _select_value(checkpoint_stability, "score", score, table)
    _checkpoints_present(rows, checkpoint_order, table)
    _checkpoints_present(rows, checkpoint_order, table, column="next_checkpoint")
    position = {c: i for i, c in enumerate(checkpoint_order)}
    pairs = (rows[["checkpoint", "next_checkpoint"]].drop_duplicates()
             .sort_values("checkpoint", key=lambda c: c.map(position)))
    transitions = [_transition(a, b) for a, b in pairs.itertuples(index=False)]
    rows = rows.assign(transition=[_transition(a, b) for a, b in
                                   zip(rows["checkpoint"], rows["next_checkpoint"])])
    steps = [*rows["checkpoint"], *rows["next_checkpoint"]]
    xlabel = ("training step transition" if _checkpoint_axis_label(steps) == "training step"
              else "checkpoint transition")
    return _plot_mean_by_checkpoint(
        rows, "transition", transitions, "jaccard",
        ylabel="Jaccard between\nconsecutive checkpoints", xlabel=xlabel, tick_labels=transitions,
        empty_message="nothing to draw at this τ",
        title=f"Expert-set stability across training ({_score_name(score)} > τ; "
              "two empty sets count as Jaccard 0)",
        paths=paths, n_resamples=n_resamples, seed=seed, flag="empty_union",
    )


def _transition(a: str, b: str) -> str:
    """Axis label of a checkpoint transition: step512, step1000 -> '512→1000'."""
    return f"{_checkpoint_tick(str(a))}→{_checkpoint_tick(str(b))}"


# ----------------------------------------------------------------------------- Fig. 4 / App. E


def _concept_order(pairs: pd.DataFrame, domains: pd.DataFrame | None) -> pd.DataFrame:
    """DataFrame[concept, domain] of the heatmap's concepts in display order.

    With ``domains`` (the hierarchy table: domain, role, concept): domains in file order, each
    super-ordinate first, then its sub-ordinates in file order. Without it: domains and their
    concepts in order of first appearance in ``pairs``.
    """
    in_pairs = pd.concat([
        pairs[["concept_a", "domain_a"]].set_axis(["concept", "domain"], axis=1),
        pairs[["concept_b", "domain_b"]].set_axis(["concept", "domain"], axis=1),
    ]).drop_duplicates("concept")
    if domains is None:
        rank = {d: i for i, d in enumerate(pd.unique(in_pairs["domain"]))}
        return in_pairs.sort_values("domain", key=lambda d: d.map(rank), kind="stable")
    _require_columns(domains, ["domain", "role", "concept"], "hierarchy domains")
    unknown = sorted(set(in_pairs["concept"]) - set(domains["concept"]))
    if unknown:
        raise ValueError(f"hierarchy_pairs concept(s) {unknown} are not in the domains table")
    rank = {d: i for i, d in enumerate(pd.unique(domains["domain"]))}
    ordered = domains.assign(_domain=domains["domain"].map(rank),
                             _role=(domains["role"] != "super").astype(int))
    ordered = ordered.sort_values(["_domain", "_role"], kind="stable")
    ordered = ordered[ordered["concept"].isin(set(in_pairs["concept"]))]
    return ordered[["concept", "domain"]]


def _overlap_matrix(pairs: pd.DataFrame, concepts: Sequence[str]) -> pd.DataFrame:
    """Symmetric [concept x concept] matrix of overlap (percent); NaN where no pair is given.

    Raises ValueError when (a, b) and (b, a) carry different overlaps.
    """
    index = {c: i for i, c in enumerate(concepts)}
    matrix = np.full((len(concepts), len(concepts)), np.nan)
    for a, b, overlap in pairs[["concept_a", "concept_b", "overlap"]].itertuples(index=False):
        i, j = index[a], index[b]
        previous = matrix[i, j]
        if np.isfinite(previous) and not np.isclose(previous, overlap):
            raise ValueError(f"hierarchy_pairs gives two overlaps for {a} and {b}: "
                             f"{previous} and {overlap}")
        matrix[i, j] = matrix[j, i] = overlap
    return pd.DataFrame(matrix, index=list(concepts), columns=list(concepts))


def _domain_boundaries(domain_per_concept: Sequence[str]) -> tuple[list[int], list[float], list[str]]:
    """(start index of each domain after the first, centre of each domain, domain names)."""
    starts, centres, names = [], [], []
    begin = 0
    for k in range(1, len(domain_per_concept) + 1):
        if k == len(domain_per_concept) or domain_per_concept[k] != domain_per_concept[begin]:
            centres.append((begin + k - 1) / 2)
            names.append(domain_per_concept[begin])
            if k < len(domain_per_concept):
                starts.append(k)
            begin = k
    return starts, centres, names


def plot_hierarchy_heatmap(
    hierarchy_pairs: pd.DataFrame,
    model: str,
    checkpoint: str,
    paths: Sequence[PathLike],
    *,
    domains: pd.DataFrame | None = None,
    score: str | None = None,
    tau: float = 0.5,
) -> pd.DataFrame:
    """Fig. 4 / App. E: expert overlap of every pair of hierarchy concepts, ordered by domain.

    Cell (a, b) = overlap of E(a) and E(b) as percent of their union (100 × Jaccard; 0 when
    both sets are empty), averaged over folds, for one model, checkpoint, score and tau (0.5 in
    the paper); the title says how many folds. Domain blocks are separated by white lines and
    named on top; the diagonal and pairs missing from the table are grey. Pass ``domains``
    (resources/hierarchy_domains.tsv) to put each super-ordinate first.

    Returns the symmetric DataFrame [concept x concept] of the plotted percentages.
    """
    columns = ["model", "checkpoint", "fold", "score", "tau", "concept_a", "concept_b", "domain_a", "domain_b",
               "overlap"]
    rows, score = _select_condition(hierarchy_pairs, "hierarchy_pairs", columns, model, score, tau, checkpoint)
    n_folds = _n_folds(rows)
    rows = rows.groupby(["concept_a", "concept_b", "domain_a", "domain_b"], sort=False, as_index=False)[
        "overlap"].mean()
    order = _concept_order(rows, domains)
    matrix = _overlap_matrix(rows, list(order["concept"]))
    starts, centres, names = _domain_boundaries(list(order["domain"]))
    n = len(matrix)
    side = max(4.0, 0.2 * n + 2.5)
    with _style(), sns.axes_style("white"):
        fig = _new_figure((side + 1.2, side))
        ax = fig.subplots()
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
        finite = matrix.to_numpy()[np.isfinite(matrix.to_numpy())]
        vmax = max(float(finite.max()), 1e-9) if finite.size else 1.0
        image = ax.imshow(np.ma.masked_invalid(matrix.to_numpy()), cmap=cmap, vmin=0,
                          vmax=vmax, interpolation="nearest")
        _note_if_empty(ax, pd.Series(matrix.to_numpy().ravel()),
                       "no defined overlap:\nevery pair has an empty union of experts")
        for k in starts:
            ax.axhline(k - 0.5, color="white", linewidth=1.5)
            ax.axvline(k - 0.5, color="white", linewidth=1.5)
        ax.set_xticks(range(n))
        ax.set_xticklabels(matrix.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(n))
        ax.set_yticklabels(matrix.index, fontsize=7)
        top = ax.secondary_xaxis("top")
        top.set_xticks(centres)
        top.set_xticklabels(names, rotation=45, ha="left", fontsize=8)
        fig.colorbar(image, ax=ax, shrink=0.7,
                     label="expert overlap (% of union, 100 × Jaccard)")
        ax.set_title(f"{model} @ {checkpoint}: expert overlap of hierarchy concepts "
                     f"({_score_name(score)} > {tau:g}, mean over n folds = {n_folds})")
        save_figure(fig, paths)
    return matrix


# ----------------------------------------------------------------------------- Fig. 7 / App. F

BLOCK_NAMES = {"mlp": "MLP", "attention": "attention"}


def _layer_rows(layer_distribution: pd.DataFrame, model: str, tau: float, score: str | None,
                fold: int | None) -> tuple[pd.DataFrame, str, str]:
    """The layer_distribution rows of one model, tau and score: of ``fold``, or (None) averaged over
    every fold (mean_experts and total_experts per checkpoint, block, sublayer and layer); with the
    score and a title note saying which."""
    columns = ["model", "checkpoint", "fold", "score", "tau", "block", "sublayer", "layer", "n_units",
               "mean_experts", "total_experts"]
    if fold is not None:
        rows, score, fold = _select_run(layer_distribution, "layer_distribution", columns, model, score, tau, fold)
        return rows, score, f"fold {fold}"
    rows, score = _select_condition(layer_distribution, "layer_distribution", columns, model, score, tau)
    keys = ["model", "checkpoint", "score", "tau", "block", "sublayer", "layer", "n_units"]
    averaged = rows.groupby(keys, sort=False, dropna=False)[["mean_experts", "total_experts"]].mean().reset_index()
    return averaged, score, f"mean over n folds = {_n_folds(rows)}"


def _block_totals(rows: pd.DataFrame, checkpoints: Sequence[str]) -> pd.DataFrame:
    """Per checkpoint and block: total experts (sum over concepts and units) and per unit.

    Returns DataFrame[checkpoint, block, total_experts, n_units, experts_per_unit], where
    experts_per_unit = sum(mean_experts) / sum(n_units), the fraction of the block's units that
    are experts of a concept, averaged over concepts.
    """
    totals = rows.groupby(["checkpoint", "block"], as_index=False)[
        ["total_experts", "mean_experts", "n_units"]].sum()
    totals["experts_per_unit"] = totals["mean_experts"] / totals["n_units"]
    totals = _sort_by_checkpoint(totals, checkpoints, ["block"])
    return totals[["checkpoint", "block", "total_experts", "n_units", "experts_per_unit"]]


def _depth_profile(rows: pd.DataFrame, checkpoints: Sequence[str]) -> pd.DataFrame:
    """Mean experts per concept in each layer (summed over the rows' sublayers), per checkpoint.

    Returns DataFrame[checkpoint, layer, mean_experts].
    """
    depth = rows.groupby(["checkpoint", "layer"], as_index=False)["mean_experts"].sum()
    return _sort_by_checkpoint(depth.sort_values("layer"), checkpoints, [])


def _draw_block_totals(ax_total, ax_unit, totals: pd.DataFrame, checkpoints: Sequence[str]) -> None:
    """Fig. 7(a): total experts per block over checkpoints, raw and per unit."""
    blocks = [b for b in BLOCK_NAMES if b in set(totals["block"])]
    colours = _palette([BLOCK_NAMES[b] for b in blocks])
    position = {c: i for i, c in enumerate(checkpoints)}
    for block in blocks:
        s = totals[totals["block"] == block]
        x = s["checkpoint"].map(position)
        name = BLOCK_NAMES[block]
        ax_total.plot(x, s["total_experts"], marker="o", color=colours[name], label=name)
        ax_unit.plot(x, s["experts_per_unit"], marker="o", color=colours[name], label=name)
    for ax in (ax_total, ax_unit):
        _set_checkpoint_ticks(ax, checkpoints)
        ax.set_xlabel(_checkpoint_axis_label(checkpoints))
        ax.legend(title="block", loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2,
                  frameon=False)
    ax_total.set_ylabel("total experts (sum over concepts)")
    ax_total.set_title("(a) experts per block")
    ax_unit.set_ylabel("fraction of the block's units\nthat are experts (mean over concepts)")
    ax_unit.set_title("(a) normalised by the block's units")


def _draw_depth(ax, depth: pd.DataFrame, checkpoints: Sequence[str], title: str) -> None:
    """Fig. 7(b): mean experts per concept by layer, one line per checkpoint (early = dark)."""
    colours = dict(zip(checkpoints, sns.color_palette("viridis", n_colors=len(checkpoints))))
    for checkpoint in checkpoints:
        s = depth[depth["checkpoint"] == checkpoint]
        ax.plot(s["layer"], s["mean_experts"], marker="o", markersize=3.5,
                color=colours[checkpoint], label=checkpoint)
    ax.set_xlabel("layer (block index, 0 = first)")
    ax.set_ylabel("experts per concept (mean over concepts)")
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(title="checkpoint", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def plot_layer_distribution(
    layer_distribution: pd.DataFrame,
    model: str,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    tau: float = 0.5,
    *,
    block: str | None = None,
    sublayer: str | None = None,
    score: str | None = None,
    fold: int | None = None,
) -> pd.DataFrame:
    """Fig. 7 / App. F: where a model's experts sit, for one tau and score, averaged over folds (or of
    one ``fold``).

    Without ``block`` and ``sublayer`` (Fig. 7): (a) total experts in MLP and attention blocks per
    checkpoint, raw and as the fraction of the block's units (mean over concepts); (b) mean
    experts per concept in each layer's MLP, one line per checkpoint. With ``block`` (e.g.
    "attention", App. F.3) or ``sublayer`` (e.g. "dense_h_to_4h", App. F.4-F.7): only the depth
    profile of those units. Expert counts are summed over the sublayers of a layer.

    Returns DataFrame[panel, checkpoint, block, layer, value]: panel "total_experts" and
    "experts_per_unit" (layer NaN) or "depth" (value = mean experts per concept, block = the
    block or sublayer drawn).
    """
    rows, score, folds = _layer_rows(layer_distribution, model, tau, score, fold)
    checkpoints = _checkpoints_present(rows, checkpoint_order, "layer_distribution")
    title = f"{model}: experts (units with {_score_name(score)} > {tau:g}), {folds}"
    with _style():
        if block is None and sublayer is None:
            fig = _new_figure((15, 4.6))
            axes = fig.subplots(1, 3)
            totals = _block_totals(rows, checkpoints)
            _draw_block_totals(axes[0], axes[1], totals, checkpoints)
            mlp, _ = _select_value(rows, "block", "mlp", "layer_distribution")
            depth = _depth_profile(mlp, checkpoints).assign(block="mlp")
            _draw_depth(axes[2], depth, checkpoints, "(b) MLP by depth")
            data = pd.concat([
                totals.assign(panel="total_experts", value=totals["total_experts"]),
                totals.assign(panel="experts_per_unit", value=totals["experts_per_unit"]),
                depth.assign(panel="depth", value=depth["mean_experts"]),
            ])
        else:
            fig = _new_figure((7, 4.4))
            ax = fig.subplots()
            selected, what = rows, ""
            if block is not None:
                selected, _ = _select_value(selected, "block", block, "layer_distribution")
                what = BLOCK_NAMES.get(block, block)
            if sublayer is not None:
                selected, _ = _select_value(selected, "sublayer", sublayer, "layer_distribution")
                what = f"{what} {sublayer}".strip()
            depth = _depth_profile(selected, checkpoints).assign(block=what)
            _draw_depth(ax, depth, checkpoints, f"{what} by depth")
            data = depth.assign(panel="depth", value=depth["mean_experts"])
        fig.suptitle(title)
        save_figure(fig, paths)
    if "layer" not in data:
        data["layer"] = np.nan
    return data[["panel", "checkpoint", "block", "layer", "value"]].reset_index(drop=True)


# ----------------------------------------------------------------------------- Table 2 / App. D


def _hierarchy_rows(hierarchy: pd.DataFrame, model: str, checkpoint: str, score: str | None,
                    tau: float) -> tuple[pd.DataFrame, str, int]:
    """The hierarchy rows of one model, checkpoint, score and tau summarised over folds
    (tables.hierarchy_summary), domains in the table's order; with the score and fold count."""
    columns = ["model", "checkpoint", "fold", "score", "tau", "domain", "overlap", "empty_intersection",
               "baseline1", "baseline2"]
    rows, score = _select_condition(hierarchy, "hierarchy", columns, model, score, tau, checkpoint)
    repeated = rows.duplicated(["fold", "domain"])
    if repeated.any():
        raise ValueError(f"hierarchy table repeats domain(s) {sorted(rows.loc[repeated, 'domain'])} for "
                         f"{model} @ {checkpoint}, score {score}, tau {tau} within a fold")
    summary = tables.hierarchy_summary(rows).set_index("domain").loc[list(pd.unique(rows["domain"]))]
    summary = summary.reset_index().rename(columns={"mean": "overlap", "sd": "overlap_sd",
                                                    "min": "overlap_min", "max": "overlap_max"})
    columns = ["domain", "overlap", "overlap_sd", "overlap_min", "overlap_max", "n_folds", "baseline1",
               "baseline2", "n_empty_intersection"]
    return summary[columns], score, _n_folds(rows)


def hierarchy_csv_table(
    hierarchy: pd.DataFrame,
    model: str,
    checkpoint: str,
    *,
    score: str | None = None,
    tau: float = 0.5,
) -> pd.DataFrame:
    """Table 2 / App. D for one model and checkpoint: one row per domain, in the table's order.

    Returns DataFrame[domain, overlap, overlap_sd, overlap_min, overlap_max, n_folds, baseline1,
    baseline2, n_empty_intersection]: overlap = mean over folds of the percent of the experts
    shared by all sub-ordinates that the super-ordinate shares too, with its fold sd and min-max
    (n_folds: folds with a defined overlap); baselines = means over folds of the means over
    randomisations; n_empty_intersection = folds where the sub-ordinates share no expert.
    """
    return _hierarchy_rows(hierarchy, model, checkpoint, score, tau)[0]


def _percent_cell(value: float) -> str:
    """A percentage with two decimals, or 'n/a' when undefined."""
    return f"{value:.2f}" if np.isfinite(value) else "n/a"


def _spread_cell(sd: float, low: float, high: float) -> str:
    """'± sd (min–max)' of a fold summary; '± n/a' for the sd of a single fold."""
    return f"± {_percent_cell(sd)} ({_percent_cell(low)}–{_percent_cell(high)})"


def hierarchy_markdown(
    hierarchy: pd.DataFrame,
    model: str,
    checkpoint: str,
    *,
    score: str | None = None,
    tau: float = 0.5,
    tests: pd.DataFrame | None = None,
) -> str:
    """Table 2 / App. D as Markdown, over folds: Domain | % overlap (mean) | ± sd (min–max) |
    baseline 1 | baseline 2, two decimals.

    An undefined overlap reads "n/a"; a domain whose sub-ordinates share no expert in some
    folds is marked † (its overlap counts as 0 there). With ``tests`` (hierarchy_tests rows) a
    line per baseline gives the per-fold permutation tests: median p and range over folds.
    """
    table, score, n_folds = _hierarchy_rows(hierarchy, model, checkpoint, score, tau)
    lines = [
        f"**{model} @ {checkpoint}**: experts = units with {_score_name(score)} > {tau:g}; "
        f"mean over n folds = {n_folds}, ± fold sd (min–max).",
        "",
        "| Domain | % overlap | ± sd (min–max) over folds | baseline 1 | baseline 2 |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in table.itertuples(index=False):
        mark = " †" if row.n_empty_intersection else ""
        lines.append(f"| {row.domain}{mark} | {_percent_cell(row.overlap)} | "
                     f"{_spread_cell(row.overlap_sd, row.overlap_min, row.overlap_max)} | "
                     f"{_percent_cell(row.baseline1)} | {_percent_cell(row.baseline2)} |")
    if (table["n_empty_intersection"] > 0).any():
        lines += ["", "†: in some folds the sub-ordinate concepts share no expert; the overlap counts as 0 "
                      "there (the number of such folds is n_empty_intersection in the CSV)."]
    if table["overlap"].isna().any():
        lines += ["", "n/a: the overlap is undefined in every fold."]
    if tests is not None:
        lines += ["", *_test_lines(tests, model, checkpoint, score, tau)]
    return "\n".join(lines) + "\n"


def _test_lines(tests: pd.DataFrame, model: str, checkpoint: str, score: str, tau: float) -> list[str]:
    """One Markdown line per baseline: the per-fold two-sample permutation tests of real vs
    baseline, summarised over folds (tables.hierarchy_test_summary)."""
    table = "hierarchy_tests"
    _require_columns(tests, ["model", "checkpoint", "fold", "score", "tau", "baseline",
                             "mean_real", "mean_baseline", "statistic", "p_value"], table)
    rows = tests[(tests["model"] == model) & (tests["checkpoint"] == checkpoint)
                 & (tests["score"] == score)]
    summary = tables.hierarchy_test_summary(_select_tau(rows, tau, table))
    return [
        f"Permutation test, real domains vs {row.baseline} (one test per fold, n folds = {row.n_folds}): "
        f"mean {row.mean_real:.2f} % vs {row.mean_baseline:.2f} %, statistic {row.statistic:.3g}, "
        f"median p = {row.p_median:.3g} (range {row.p_min:.3g}–{row.p_max:.3g})."
        for row in summary.itertuples(index=False)
    ]


# ----------------------------------------------------------------------------- App. F.4-F.7 and Fig. 1 sources


def plot_sublayer_distribution(
    layer_distribution: pd.DataFrame,
    model: str,
    checkpoint_order: Sequence[str],
    paths: Sequence[PathLike],
    tau: float = 0.5,
    *,
    score: str | None = None,
    fold: int | None = None,
) -> pd.DataFrame:
    """App. F.4-F.7: where a model's experts sit in each sub-layer, for one tau and score, averaged over
    folds (or of one ``fold``).

    One panel per (block, sublayer) module kind (GPT-NeoX: mlp.dense_h_to_4h, mlp.dense_4h_to_h,
    attention.query_key_value, attention.dense), MLP first, sub-layers in table order; x = layer,
    y = mean experts per concept among that sub-layer's units, one line per checkpoint.

    Returns DataFrame[panel, block, sublayer, checkpoint, layer, value], panel = "block.sublayer".
    """
    rows, score, folds = _layer_rows(layer_distribution, model, tau, score, fold)
    checkpoints = _checkpoints_present(rows, checkpoint_order, "layer_distribution")
    kinds = rows[["block", "sublayer"]].drop_duplicates()
    block_rank = {b: i for i, b in enumerate(BLOCK_NAMES)}
    kinds = kinds.assign(_rank=kinds["block"].map(block_rank).fillna(len(block_rank)))
    kinds = kinds.sort_values("_rank", kind="stable")[["block", "sublayer"]]
    profiles = []
    n_cols = min(len(kinds), 2)
    with _style():
        fig = _new_figure((4.6 * n_cols, 3.4 * -(-len(kinds) // n_cols) + 1.0))
        axes = list(fig.subplots(-(-len(kinds) // n_cols), n_cols, squeeze=False).ravel())
        for ax in axes[len(kinds):]:
            ax.set_visible(False)
        for ax, (block, sublayer) in zip(axes, kinds.itertuples(index=False)):
            selected = rows[(rows["block"] == block) & (rows["sublayer"] == sublayer)]
            panel = f"{block}.{sublayer}"
            depth = _depth_profile(selected, checkpoints)
            _draw_depth(ax, depth, checkpoints, panel)
            ax.get_legend().remove()
            profiles.append(depth.assign(panel=panel, block=block, sublayer=sublayer))
        _figure_legend(fig, axes[: len(kinds)])
        fig.suptitle(f"{model}: experts per sub-layer by depth (units with {_score_name(score)} > "
                     f"{tau:g}, {folds}); one line per checkpoint")
        save_figure(fig, paths)
    data = pd.concat(profiles, ignore_index=True).rename(columns={"mean_experts": "value"})
    return data[["panel", "block", "sublayer", "checkpoint", "layer", "value"]]


def source_type_token_ratios(diversity: pd.DataFrame) -> pd.Series:
    """Mean over concepts of each sentence source's type/token ratio (the paper: GPT-4 0.34,
    80b-chat 0.21, Mistral-7B 0.18). ``diversity``: sentence_diversity rows (source, concept,
    type_token_ratio). Returns Series[source -> mean ratio]."""
    _require_columns(diversity, ["source", "type_token_ratio"], "sentence_diversity")
    return diversity.groupby("source", sort=False)["type_token_ratio"].mean()


def _source_labels(rows: pd.DataFrame, diversity: pd.DataFrame | None) -> pd.Series:
    """Legend suffix naming each row's sentence source and its type/token ratio (Fig. 1, one line
    per source); empty when the rows hold a single source or no source column."""
    if "source" not in rows or rows["source"].nunique() < 2:
        return pd.Series("", index=rows.index)
    ratios = source_type_token_ratios(diversity) if diversity is not None else pd.Series(dtype=float)
    names = rows["source"].astype(str)
    ratio = names.map(ratios)
    return ", " + names + ratio.map(lambda r: f" (type/token {r:.2f})" if np.isfinite(r) else "")


# ----------------------------------------------------------------------------- Fig. 9 (causal check)


INTERVENTION_MEASURES = {
    "gain": "log-prob gain of the word (nats)",
    "share_gain": "gain in share of samples with the word",
}
CONDITION_STYLES = {"experts": "top-k experts", "random": "k random units (control)"}


def plot_intervention(
    intervention: pd.DataFrame,
    model: str,
    checkpoint: str,
    paths: Sequence[PathLike],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Fig. 9: gain over k = 0 when a concept's top-k experts (or k random units) are clamped.

    One panel of log-prob gain for all concepts, one per concept group, and a last panel of the
    gain in the share of sampled continuations that contain the word (all concepts); x = k; y =
    mean over concepts, prompts (and control seeds) with its bootstrap 95% CI; experts vs random.
    A model without rows (no LM head) gets one panel saying so.

    Returns DataFrame[measure, group, condition, k, x, mean, ci_low, ci_high, n].
    """
    table = "intervention"
    _require_columns(intervention, ["model", "checkpoint", "concept", "group", "k", "condition", "seed",
                                    "prompt", "gain", "share_gain"], table)
    rows = intervention[(intervention["model"] == model) & (intervention["checkpoint"] == checkpoint)]
    groups = sorted(rows["group"].unique()) if len(rows) else []
    panels = [("gain", "all concepts")] + [("gain", g) for g in groups if len(groups) > 1] + [("share_gain", "all concepts")]
    every = rows.assign(group="all concepts")
    by = ["group", "condition", "k"]
    data = pd.concat([
        _mean_ci(every, by, "gain", n_resamples, seed, table).assign(measure="gain"),
        _mean_ci(rows, by, "gain", n_resamples, seed, table).assign(measure="gain"),
        _mean_ci(every, by, "share_gain", n_resamples, seed, table).assign(measure="share_gain"),
    ], ignore_index=True)
    ks = sorted(rows["k"].unique())
    offsets = dict(zip(CONDITION_STYLES, _dodge_offsets(len(CONDITION_STYLES))))
    data = data.assign(x=data["k"].map({k: i for i, k in enumerate(ks)}) + data["condition"].map(offsets))
    colours = _palette(list(CONDITION_STYLES))
    with _style():
        n_cols = min(len(panels), 4)
        fig = _new_figure((3.6 * n_cols, 3.0 * -(-len(panels) // n_cols) + 0.8))
        axes = list(fig.subplots(-(-len(panels) // n_cols), n_cols, squeeze=False).ravel())
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for ax, (measure, group) in zip(axes, panels):
            panel = data[(data["measure"] == measure) & (data["group"] == group)]
            for condition, label in CONDITION_STYLES.items():
                s = panel[panel["condition"] == condition]
                _draw_series(ax, s["x"], s["mean"], s["ci_low"], s["ci_high"], color=colours[condition], label=label)
            _note_if_empty(ax, panel["mean"], "no causal LM head:\nnothing to intervene on")
            ax.axhline(0, color="0.5", linewidth=0.8)
            if ks:
                _set_ticks(ax, [str(k) for k in ks])
            ax.set_title(group)
            ax.set_xlabel("units clamped (k)")
            ax.set_ylabel(INTERVENTION_MEASURES[measure])
        fig.suptitle(f"Clamping a concept's experts vs random units: {model} @ {checkpoint}")
        _figure_legend(fig, axes[: len(panels)])
        save_figure(fig, paths)
    columns = ["measure", "group", "condition", "k", "x", "mean", "ci_low", "ci_high", "n"]
    return data[columns].sort_values(["measure", "group", "condition", "k"], kind="stable").reset_index(drop=True)



# ----------------------------------------------------------------------------- figure registry

#: One figure rule: (inputs, params, wildcards, paths) -> the plotted data. ``inputs`` maps the
#: rule's input names to their tables (CSV read as DataFrames), ``params`` and ``wildcards`` the
#: rule's params and wildcards by name, ``paths`` the figure's files (PDF, PNG).
FigureDrawer = Callable[[Mapping[str, pd.DataFrame], Mapping, Mapping[str, str], Sequence[PathLike]], pd.DataFrame]

#: Every figure drawn by workflow/scripts/figure.py, by rule name: a new figure is one entry here
#: (see :func:`figure`) and one rule in rules/figures.smk.
FIGURES: dict[str, FigureDrawer] = {}


def figure(rule: str) -> Callable[[FigureDrawer], FigureDrawer]:
    """Register the decorated function as the drawing of the figure rule ``rule``."""
    def register(draw: FigureDrawer) -> FigureDrawer:
        if rule in FIGURES:
            raise ValueError(f"figure rule {rule} is registered twice")
        FIGURES[rule] = draw
        return draw

    return register


def draw_figure(rule: str, inputs: Mapping[str, pd.DataFrame], params: Mapping, wildcards: Mapping[str, str],
                paths: Sequence[PathLike]) -> pd.DataFrame:
    """Draw the figure of rule ``rule`` (FIGURES) to ``paths``; returns its plotted data."""
    if rule not in FIGURES:
        raise ValueError(f"no figure is registered for rule {rule!r}; registered: {sorted(FIGURES)}")
    return FIGURES[rule](inputs, params, wildcards, paths)


def _resampling(params: Mapping) -> dict:
    """Bootstrap settings of a figure rule from its ``stats`` param (config statistics)."""
    return dict(n_resamples=params["stats"]["bootstrap_resamples"], seed=params["stats"]["seed"])


def _facets(params: Mapping) -> dict:
    """The dataset facets of a figure rule: params ``datasets`` (order) and ``ceilings``."""
    return dict(datasets=params.get("datasets"), ceilings=params.get("ceilings"))


@figure("fig1_stability")
def _fig1(inputs, params, wildcards, paths):
    return plot_stability(inputs["table"], *paths, score=params["score"], diversity=inputs.get("diversity"),
                          **_resampling(params))


@figure("fig2_alignment")
def _fig2(inputs, params, wildcards, paths):
    return plot_alignment(inputs["table"], params["checkpoint_order"], paths, lexical=inputs.get("lexical"),
                          score=params["score"], **_facets(params))


@figure("fig3_embedding_baseline")
def _fig3(inputs, params, wildcards, paths):
    return plot_embedding_baseline(inputs["table"], inputs["alignment"], params["checkpoint_order"], paths,
                                   tau=params.get("tau", 0.5), score=params["score"], **_facets(params))


@figure("fig4_hierarchy_heatmap")
def _fig4(inputs, params, wildcards, paths):
    table = inputs["table"]
    return plot_hierarchy_heatmap(table, wildcards["model"], wildcards["checkpoint"], paths,
                                  domains=params.get("hierarchy"), score=params["score"], tau=min(table["tau"]))


@figure("fig5_expert_counts")
def _fig5(inputs, params, wildcards, paths):
    return plot_expert_counts(inputs["table"], params["checkpoint_order"], paths, score=params["score"],
                              **_resampling(params))


@figure("fig6_checkpoint_stability")
def _fig6(inputs, params, wildcards, paths):
    return plot_checkpoint_stability(inputs["table"], params["checkpoint_order"], paths, score=params["score"],
                                     **_resampling(params))


def layer_view(view: str, taus) -> dict:
    """Fig. 7's ``view`` wildcard as plot_layer_distribution arguments: 'overview' -> Fig. 7 (a)
    and (b) at the lowest of ``taus``; 'attention_tau0.9' -> attention by depth at 0.9."""
    block, _, tau = view.partition("_tau")
    return dict(block=None if block == "overview" else block, tau=float(tau) if tau else min(taus))


@figure("fig7_layer_distribution")
def _fig7(inputs, params, wildcards, paths):
    table = inputs["table"]
    return plot_layer_distribution(table, wildcards["model"], params["checkpoint_order"], paths,
                                   score=params["score"], **layer_view(wildcards["view"], table["tau"]))


@figure("appF_sublayer_distribution")
def _app_f(inputs, params, wildcards, paths):
    table = inputs["table"]
    return plot_sublayer_distribution(table, wildcards["model"], params["checkpoint_order"], paths,
                                      score=params["score"], tau=min(table["tau"]))


@figure("fig8_cosine_variants")
def _fig8(inputs, params, wildcards, paths):
    return plot_cosine_variants(inputs["table"], params["checkpoint_order"], paths, tau=params.get("tau", 0.5),
                                score=params["score"], **_facets(params))


@figure("fig10_cross_dataset")
def _fig10(inputs, params, wildcards, paths):
    return plot_cross_dataset(inputs["table"], paths, params.get("datasets"), params["checkpoint_order"],
                              checkpoints=params.get("cross_dataset_checkpoints"))
