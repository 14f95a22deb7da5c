"""Figures and tables of the paper (expertalign.plots): files valid, plotted numbers = the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from expertalign import plots, stats

N_RESAMPLES = 200
CHECKPOINTS = ["step1", "step512", "step143000"]
MODELS = ["pythia-70m", "pythia-1b"]
TAUS = [0.5, 0.7]
CONCEPTS = [f"concept{i}-n" for i in range(6)]


# ----------------------------------------------------------------------------- helpers


def _paths(tmp_path, name):
    return [tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"]


def _assert_figure_files(paths):
    """A real PDF and a PNG that matplotlib reads back with a non-empty image."""
    pdf, png = paths
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pixels = mpimg.imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    leftovers = [p.name for p in pdf.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def _spearman(model_index, checkpoint_index, tau):
    return 0.1 + 0.2 * checkpoint_index + 0.05 * model_index - 0.1 * tau


def _expert_counts(checkpoints=CHECKPOINTS):
    rng = np.random.default_rng(0)
    rows = [dict(model=model, checkpoint=checkpoint, fold=fold, score="ap", tau=tau,
                 concept=concept, n_experts=int(rng.integers(0, 50)), n_units=1000)
            for fold in (0, 1) for model in MODELS for checkpoint in checkpoints
            for tau in TAUS for concept in CONCEPTS]
    df = pd.DataFrame(rows)
    return df.assign(fraction=df["n_experts"] / df["n_units"])


def _checkpoint_stability():
    """Two folds; every sixth row has two empty sets: Jaccard 0 and empty_union True."""
    rng = np.random.default_rng(1)
    transitions = list(zip(CHECKPOINTS[:-1], CHECKPOINTS[1:]))
    rows = [dict(model=model, checkpoint=a, next_checkpoint=b, fold=fold, score="ap", tau=tau,
                 concept=concept, jaccard=float(rng.uniform()), empty_union=False)
            for fold in (0, 1) for model in MODELS for a, b in transitions for tau in TAUS
            for concept in CONCEPTS]
    df = pd.DataFrame(rows)
    empty = df.index % 6 == 0
    df.loc[empty, "jaccard"] = 0.0
    df.loc[empty, "empty_union"] = True
    return df


def _hierarchy_domains():
    return pd.DataFrame({
        "domain": ["animal"] * 3 + ["colour"] * 3,
        "role": ["super", "sub", "sub", "super", "sub", "sub"],
        "concept": ["animal-n", "dog-n", "cat-n", "colour-n", "red-n", "blue-n"],
    })


def _hierarchy_pairs(domains):
    """All unordered pairs, listed in an order that is NOT the display order."""
    domain_of = dict(zip(domains["concept"], domains["domain"]))
    concepts = sorted(domains["concept"])
    rows = []
    for i, a in enumerate(concepts):
        for b in concepts[i + 1:]:
            overlap = 10.0 * (i + 1) + len(b) + (50 if domain_of[a] == domain_of[b] else 0)
            rows.append(dict(model="m", checkpoint="final", fold=0, score="ap", tau=0.5,
                             concept_a=b, concept_b=a, domain_a=domain_of[b],
                             domain_b=domain_of[a], overlap=overlap))
    return pd.DataFrame(rows)


def _layer_distribution():
    rows = []
    sublayers = {"attention": ["query_key_value", "dense"], "mlp": ["dense_h_to_4h", "dense_4h_to_h"]}
    for c, checkpoint in enumerate(CHECKPOINTS):
        for layer in range(3):
            for block, names in sublayers.items():
                for s, sublayer in enumerate(names):
                    mean = 1.0 + c + 10 * layer + 100 * s + (1000 if block == "mlp" else 0)
                    rows.append(dict(model="m", checkpoint=checkpoint, fold=0, score="ap",
                                     tau=0.5, block=block, sublayer=sublayer, layer=layer,
                                     n_units=64 * (s + 1), mean_experts=mean,
                                     total_experts=mean * len(CONCEPTS)))
    return pd.DataFrame(rows)


def _hierarchy():
    return pd.DataFrame([
        dict(model="m", checkpoint="final", fold=0, score="ap", tau=0.5, domain="animal",
             overlap=42.456, empty_intersection=False, baseline1=0.581, baseline2=8.3149),
        dict(model="m", checkpoint="final", fold=0, score="ap", tau=0.5, domain="colour",
             overlap=np.nan, empty_intersection=True, baseline1=4.83, baseline2=2.66),
        dict(model="m", checkpoint="final", fold=1, score="ap", tau=0.5, domain="animal",
             overlap=1.0, empty_intersection=False, baseline1=1.0, baseline2=1.0),
    ])


# ----------------------------------------------------------------------------- save_figure


def test_save_figure_writes_each_format_atomically(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    paths = [tmp_path / "sub" / "f.pdf", tmp_path / "sub" / "f.png"]
    plots.save_figure(fig, paths)
    _assert_figure_files(paths)
    assert mpimg.imread(paths[1]).shape[:2] == (150, 300)  # 2 x 1 inches at 150 dpi
    with pytest.raises(ValueError, match="format"):
        plots.save_figure(fig, [tmp_path / "f.jpeg2"])
    with pytest.raises(TypeError, match="sequence"):
        plots.save_figure(fig, str(tmp_path / "f.pdf"))
    plt.close(fig)


# ----------------------------------------------------------------------------- Fig. 1


def test_plot_stability_plots_mean_jaccard_per_grid_cell(tmp_path):
    rng = np.random.default_rng(2)
    rows = [dict(model="gpt2", checkpoint="final", positive_size=p, negative_size=n, score="ap",
                 tau=tau, concept=concept, fold_a=a, fold_b=a + 1, jaccard=float(rng.uniform()),
                 empty_union=False)
            for p in (10, 20) for n in (25, 75) for tau in TAUS for concept in CONCEPTS
            for a in range(2)]
    df = pd.DataFrame(rows)
    df.loc[0, ["jaccard", "empty_union"]] = [0.0, True]  # both expert sets empty: Jaccard 0, counted
    paths = _paths(tmp_path, "fig1")
    data = plots.plot_stability(df, *paths, n_resamples=N_RESAMPLES, seed=3)
    _assert_figure_files(paths)
    assert len(data) == 2 * 2 * len(TAUS)
    expected = df.groupby(["negative_size", "positive_size", "tau"])["jaccard"].mean()
    got = data.set_index(["negative_size", "positive_size", "tau"])["mean"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    oracle = stats.mean_ci_table(df.assign(series="gpt2"),
                                 by=["negative_size", "positive_size", "series", "tau"],
                                 value="jaccard", n_resamples=N_RESAMPLES, seed=3)
    np.testing.assert_allclose(data["ci_low"], oracle["ci_low"])
    np.testing.assert_allclose(data["ci_high"], oracle["ci_high"])
    assert (data["n"] == len(CONCEPTS) * 2).all()  # the empty pair is kept (as 0), not dropped
    assert data["n_empty_union"].sum() == 1


def test_plot_stability_draws_one_line_per_source_with_its_type_token_ratio(tmp_path):
    rng = np.random.default_rng(4)
    sources = {"gpt-4": 0.6, "mistral": 0.2}  # mean Jaccard of each source's rows
    rows = [dict(model="gpt2", checkpoint="final", source=source, positive_size=10, negative_size=25,
                 score="ap", tau=tau, concept=concept, fold_a=0, fold_b=1,
                 jaccard=level + 0.1 * float(rng.uniform()), empty_union=False)
            for source, level in sources.items() for tau in TAUS for concept in CONCEPTS]
    df = pd.DataFrame(rows)
    diversity = pd.DataFrame(dict(source=["gpt-4", "gpt-4", "mistral"], concept=["a-n", "b-n", "a-n"],
                                  type_token_ratio=[0.30, 0.38, 0.18]))
    paths = _paths(tmp_path, "fig1_sources")
    data = plots.plot_stability(df, *paths, n_resamples=N_RESAMPLES, seed=3, diversity=diversity)
    _assert_figure_files(paths)
    assert sorted(data["series"].unique()) == ["gpt2, gpt-4 (type/token 0.34)", "gpt2, mistral (type/token 0.18)"]
    expected = df.groupby(["source", "tau"])["jaccard"].mean()
    got = data.assign(source=data["series"].str.extract(r", (\S+) ")[0]).set_index(["source", "tau"])["mean"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    with pytest.raises(ValueError, match="source"):
        plots.plot_stability(df, *paths, diversity=diversity.drop(columns="source"))


# ----------------------------------------------------------------------------- Fig. 2, 3, 8, 10: tables

DATASETS = ["MEN", "SimLex-999", "WordSim-353"]
ORDER = ["WordSim-353", "MEN", "SimLex-999"]  # the config's order, not the table's
CEILINGS = {"MEN": 0.84, "SimLex-999": 0.78, "WordSim-353": None}
EXPERT_OFFSETS = {"jaccard": 0.0, "cosine": -0.03, "cosine_centered": 0.02, "hellinger": 0.04}
BASELINES = ["word", "word_space", "contextual", "sentence_pool"]


def _expected(dataset, model_index, checkpoint_index, measure="jaccard", tau=0.5):
    """The mean Spearman of one alignment_summary row (see _alignment_summary)."""
    tau = tau if measure == "jaccard" else 0.0
    return (_spearman(model_index, checkpoint_index, tau) + EXPERT_OFFSETS[measure]
            + 0.01 * DATASETS.index(dataset))


def _alignment_summary(datasets=DATASETS, checkpoints=CHECKPOINTS, n_folds=2):
    """alignment_summary.csv rows: jaccard at each tau and the threshold-free measures."""
    rows = []
    for dataset in datasets:
        for m, model in enumerate(MODELS):
            for c, checkpoint in enumerate(checkpoints):
                measures = [("jaccard", tau) for tau in TAUS] + [(name, np.nan) for name in EXPERT_OFFSETS
                                                                 if name != "jaccard"]
                for measure, tau in measures:
                    r = _expected(dataset, m, c, measure, tau)
                    spread = 0.5 if n_folds > 1 else 0.0
                    rows.append(dict(dataset=dataset, model=model, checkpoint=checkpoint, score="ap",
                                     measure=measure, tau=tau, mean=r, sd=0.7 if n_folds > 1 else np.nan,
                                     min=r - spread, max=r + spread, n_folds=n_folds, ci_low=r - 0.05,
                                     ci_high=r + 0.04, n_pairs=50, n_empty_union=0, n_degenerate_resamples=0))
    return pd.DataFrame(rows)


def _lexical(datasets=DATASETS):
    return pd.DataFrame([dict(dataset=d, measure="lexical", weighting="binary", n_pairs=50,
                              spearman=0.3 + 0.1 * k, p_value=0.02, ci_low=0.2 + 0.1 * k, ci_high=0.4 + 0.1 * k,
                              n_degenerate_resamples=0) for k, d in enumerate(datasets)])


def _baseline_value(dataset, model_index, checkpoint_index, baseline):
    return 0.01 * checkpoint_index + 0.1 * BASELINES.index(baseline) + 0.001 * DATASETS.index(dataset) \
        - 0.02 * model_index


def _embedding(datasets=DATASETS, baselines=("word", "contextual", "sentence_pool")):
    rows = []
    for dataset in datasets:
        for m, model in enumerate(MODELS):
            for c, checkpoint in enumerate(CHECKPOINTS):
                for baseline in baselines:
                    r = _baseline_value(dataset, m, c, baseline)
                    rows.append(dict(dataset=dataset, model=model, checkpoint=checkpoint, baseline=baseline,
                                     pooling="mean", n_pairs=50, spearman=r, p_value=0.5, ci_low=r - 0.1,
                                     ci_high=r + 0.08, n_degenerate_resamples=0))
    return pd.DataFrame(rows)


def _cross_dataset(checkpoints=("step1", "step143000")):
    """cross_dataset.csv rows: experts with 3 folds, baselines and lexical with one (sd NaN)."""
    methods = [("experts", "jaccard", 0.5), ("experts", "cosine", np.nan), ("experts", "hellinger", np.nan),
               ("embedding", "word", np.nan), ("embedding", "sentence_pool", np.nan), ("lexical", "lexical", np.nan)]
    rows = []
    for d, dataset in enumerate(DATASETS):
        for m, model in enumerate(MODELS):
            for c, checkpoint in enumerate(checkpoints):
                for k, (kind, method, tau) in enumerate(methods):
                    r = 0.6 - 0.08 * k + 0.01 * d + 0.02 * c + 0.005 * m
                    folds = 3 if kind == "experts" else 1
                    spread = 0.03 if folds > 1 else 0.0
                    rows.append(dict(dataset=dataset, ceiling=CEILINGS[dataset], model=model, checkpoint=checkpoint,
                                     kind=kind, method=method, tau=tau, mean=r, sd=0.02 if folds > 1 else np.nan,
                                     min=r - spread, max=r + spread, n_folds=folds, ci_low=r - 0.06,
                                     ci_high=r + 0.05, n_pairs=40 + d))
    return pd.DataFrame(rows)


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib Figures the plot functions save, in order (save_figure still writes them)."""
    figures = []
    save = plots.save_figure

    def capture(fig, paths):
        figures.append(fig)
        save(fig, paths)

    monkeypatch.setattr(plots, "save_figure", capture)
    return figures


def _grid(fig):
    """(rows, columns) of a figure's panel grid and its visible axes in row-major order."""
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    return axes[0].get_subplotspec().get_gridspec().get_geometry(), axes


def _series(ax):
    """{legend label: (x, y)} of the error-bar series drawn on ``ax``."""
    from matplotlib.container import ErrorbarContainer

    return {c.get_label(): (np.asarray(c.lines[0].get_xdata(), float), np.asarray(c.lines[0].get_ydata(), float))
            for c in ax.containers if isinstance(c, ErrorbarContainer)}


def _error_bars(ax, label):
    """[n, 2] (low, high) of the error bars of the series ``label``."""
    from matplotlib.container import ErrorbarContainer

    container = next(c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.get_label() == label)
    segments = container.lines[2][0].get_segments()
    return np.array([[s[0][1], s[1][1]] for s in segments])


def _ceiling_ys(ax):
    """The y of every "human ceiling" line on ``ax`` (full-width lines and short segments)."""
    ys = [tuple(line.get_ydata()) for line in ax.get_lines() if line.get_label() == plots.CEILING_LABEL]
    for collection in ax.collections:
        if collection.get_label() == plots.CEILING_LABEL:
            ys += [(s[0][1], s[1][1]) for s in collection.get_segments()]
    return ys


# ----------------------------------------------------------------------------- Fig. 2


def test_plot_alignment_facets_by_dataset_with_ceiling_and_lexical(tmp_path, drawn):
    summary = _alignment_summary().sample(frac=1.0, random_state=0)  # rows in no particular order
    paths = _paths(tmp_path, "fig2")
    data = plots.plot_alignment(summary, CHECKPOINTS, paths, lexical=_lexical(), datasets=ORDER,
                                ceilings=CEILINGS)
    _assert_figure_files(paths)
    (n_rows, n_cols), axes = _grid(drawn[-1])
    assert (n_rows, n_cols) == (len(TAUS), len(ORDER))
    for k, ax in enumerate(axes):
        tau, dataset = TAUS[k // n_cols], ORDER[k % n_cols]
        assert ax.get_title() == f"{dataset} · τ = {tau:g}"
        series = _series(ax)
        assert list(series) == MODELS
        for m, model in enumerate(MODELS):
            x, y = series[model]
            np.testing.assert_allclose(y, [_expected(dataset, m, c, "jaccard", tau) for c in range(3)])
            np.testing.assert_allclose(np.diff(x), 1.0)
            np.testing.assert_allclose(_error_bars(ax, model), np.c_[y - 0.5, y + 0.5])  # fold min-max
        ceiling = CEILINGS[dataset]
        assert _ceiling_ys(ax) == ([] if ceiling is None else [(ceiling, ceiling)])
        lexical = [line.get_ydata()[0] for line in ax.get_lines() if line.get_label().startswith(plots.LEXICAL_LABEL)]
        assert lexical == pytest.approx([0.3 + 0.1 * DATASETS.index(dataset)])
    points = data[data["kind"] == "expert jaccard"]
    assert len(points) == len(DATASETS) * len(MODELS) * len(CHECKPOINTS) * len(TAUS)
    assert list(pd.unique(points["dataset"])) == ORDER
    merged = points.merge(summary, on=["dataset", "model", "checkpoint", "tau"], suffixes=("", "_table"))
    for column in ["mean", "sd", "min", "max", "n_folds", "ci_low", "ci_high"]:
        np.testing.assert_allclose(merged[column], merged[f"{column}_table"])
    ceilings = data[data["kind"] == "human ceiling"].set_index("dataset")["mean"].to_dict()
    assert ceilings == {"MEN": 0.84, "SimLex-999": 0.78}
    lines = data[data["kind"] == "lexical baseline"]
    assert lines.set_index("dataset")["ci_high"].to_dict() == pytest.approx({"MEN": 0.4, "SimLex-999": 0.5,
                                                                              "WordSim-353": 0.6})


def test_plot_alignment_without_ceilings_draws_none_and_survives_nan(tmp_path, drawn):
    summary = _alignment_summary(datasets=["MEN"], checkpoints=["final"], n_folds=1)
    summary.loc[summary["tau"] == 0.7, ["mean", "min", "max", "ci_low", "ci_high"]] = np.nan
    paths = _paths(tmp_path, "fig2_single")
    data = plots.plot_alignment(summary, ["init", "final"], paths)
    _assert_figure_files(paths)
    (shape, axes) = _grid(drawn[-1])
    assert shape == (len(TAUS), 1)
    assert all(_ceiling_ys(ax) == [] for ax in axes)
    assert set(data["checkpoint"]) == {"final"} and set(data["kind"]) == {"expert jaccard"}
    assert data.loc[data["tau"] == 0.7, "mean"].isna().all()
    assert (data.loc[data["tau"] == 0.5, "n_folds"] == 1).all()
    plots.plot_alignment(summary, ["final"], paths, ceilings={"MEN": float("nan")})  # NaN = unknown
    assert all(_ceiling_ys(ax) == [] for ax in _grid(drawn[-1])[1])


def test_plot_alignment_names_what_is_missing(tmp_path):
    summary = _alignment_summary()
    paths = _paths(tmp_path, "x")
    with pytest.raises(ValueError, match="step143000"):
        plots.plot_alignment(summary, ["step1", "step512"], paths)
    two_scores = pd.concat([summary, summary.assign(score="auroc")])
    with pytest.raises(ValueError, match="score="):
        plots.plot_alignment(two_scores, CHECKPOINTS, paths)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['dataset'\]"):
        plots.plot_alignment(summary.drop(columns="dataset"), CHECKPOINTS, paths)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['n_folds'\]"):
        plots.plot_alignment(summary.drop(columns="n_folds"), CHECKPOINTS, paths)
    with pytest.raises(ValueError, match="no rows for dataset.*RG-65"):
        plots.plot_alignment(summary, CHECKPOINTS, paths, datasets=[*DATASETS, "RG-65"])
    with pytest.raises(ValueError, match="WordSim-353.*missing from datasets"):
        plots.plot_alignment(summary, CHECKPOINTS, paths, datasets=["MEN", "SimLex-999"])
    with pytest.raises(ValueError, match="ceilings has no entry for dataset 'WordSim-353'"):
        plots.plot_alignment(summary, CHECKPOINTS, paths, ceilings={"MEN": 0.84, "SimLex-999": None})
    with pytest.raises(ValueError, match="lexical_baseline.*no rows for dataset.*SimLex-999"):
        plots.plot_alignment(summary, CHECKPOINTS, paths, lexical=_lexical(["MEN", "WordSim-353"]))
    with pytest.raises(ValueError, match=r"lexical_baseline table lacks column\(s\) \['dataset'\]"):
        plots.plot_alignment(summary, CHECKPOINTS, paths, lexical=_lexical().drop(columns="dataset"))


# ----------------------------------------------------------------------------- Fig. 3


@pytest.mark.parametrize("baselines", [("word", "contextual", "sentence_pool"), tuple(BASELINES)])
def test_plot_embedding_baseline_compares_experts_with_each_baseline_per_dataset(tmp_path, drawn, baselines):
    embedding = _embedding(baselines=baselines)
    paths = _paths(tmp_path, "fig3")
    data = plots.plot_embedding_baseline(embedding, _alignment_summary(), CHECKPOINTS, paths, datasets=ORDER,
                                         ceilings=CEILINGS, tau=0.7)
    _assert_figure_files(paths)
    (n_rows, n_cols), axes = _grid(drawn[-1])
    assert (n_rows, n_cols) == (len(MODELS), len(ORDER))
    labels = {b: plots.METHOD_LABELS[b] for b in baselines}
    for k, ax in enumerate(axes):
        m, dataset = k // n_cols, ORDER[k % n_cols]
        assert ax.get_title() == f"{dataset} · {MODELS[m]}"
        series = _series(ax)
        assert list(series) == ["experts: Jaccard (τ = 0.7)", "experts: cosine", *labels.values()]
        np.testing.assert_allclose(series["experts: Jaccard (τ = 0.7)"][1],
                                   [_expected(dataset, m, c, "jaccard", 0.7) for c in range(3)])
        np.testing.assert_allclose(series["experts: cosine"][1], [_expected(dataset, m, c, "cosine") for c in range(3)])
        for baseline, label in labels.items():
            y = series[label][1]
            np.testing.assert_allclose(y, [_baseline_value(dataset, m, c, baseline) for c in range(3)])
            np.testing.assert_allclose(_error_bars(ax, label), np.c_[y - 0.1, y + 0.08])  # its CI
        y = series["experts: cosine"][1]
        np.testing.assert_allclose(_error_bars(ax, "experts: cosine"), np.c_[y - 0.05, y + 0.04])  # mean fold CI
        ceiling = CEILINGS[dataset]
        assert _ceiling_ys(ax) == ([] if ceiling is None else [(ceiling, ceiling)])
    assert ("word_space" in set(data["method"])) == ("word_space" in baselines)
    drawn_baselines = data[data["kind"] == "embedding"]
    assert len(drawn_baselines) == len(embedding) and drawn_baselines["n_folds"].isna().all()
    experts = data[data["kind"] == "experts"]
    assert set(experts["method"]) == {"jaccard", "cosine"} and (experts["n_folds"] == 2).all()
    assert len(experts) == 2 * len(DATASETS) * len(MODELS) * len(CHECKPOINTS)


def test_plot_embedding_baseline_names_missing_baseline_column_and_dataset(tmp_path):
    paths = _paths(tmp_path, "x")
    with pytest.raises(ValueError, match=r"embedding_baseline table lacks column\(s\) \['baseline'\]"):
        plots.plot_embedding_baseline(_embedding().drop(columns="baseline"), _alignment_summary(), CHECKPOINTS,
                                      paths)
    with pytest.raises(ValueError, match="embedding_baseline table has no rows for dataset.*WordSim-353"):
        plots.plot_embedding_baseline(_embedding(datasets=DATASETS[:2]), _alignment_summary(), CHECKPOINTS, paths)
    with pytest.raises(ValueError, match="tau == 0.9"):
        plots.plot_embedding_baseline(_embedding(), _alignment_summary(), CHECKPOINTS, paths, tau=0.9)


# ----------------------------------------------------------------------------- Fig. 8


def test_plot_cosine_variants_draws_four_measures_per_model_and_dataset(tmp_path, drawn):
    paths = _paths(tmp_path, "fig8")
    data = plots.plot_cosine_variants(_alignment_summary(), CHECKPOINTS, paths, datasets=ORDER, ceilings=CEILINGS)
    _assert_figure_files(paths)
    (n_rows, n_cols), axes = _grid(drawn[-1])
    assert (n_rows, n_cols) == (len(MODELS), len(ORDER))
    names = {"cosine": "experts: cosine", "cosine_centered": "experts: cosine (centred)",
             "hellinger": "experts: 1 − Hellinger²", "jaccard": "experts: Jaccard (τ = 0.5)"}
    for k, ax in enumerate(axes):
        m, dataset = k // n_cols, ORDER[k % n_cols]
        series = _series(ax)
        assert list(series) == list(names.values())
        for measure, label in names.items():
            np.testing.assert_allclose(series[label][1], [_expected(dataset, m, c, measure) for c in range(3)])
        ceiling = CEILINGS[dataset]
        assert _ceiling_ys(ax) == ([] if ceiling is None else [(ceiling, ceiling)])
    curves = data[data["measure"] != plots.CEILING_LABEL]
    assert set(curves["measure"]) == set(names)
    assert len(curves) == len(names) * len(DATASETS) * len(MODELS) * len(CHECKPOINTS)
    assert (curves["n_folds"] == 2).all()
    with pytest.raises(ValueError, match="no rows for dataset.*MEN"):
        plots.plot_cosine_variants(_alignment_summary(datasets=DATASETS[1:]), CHECKPOINTS, paths, datasets=DATASETS)


# ----------------------------------------------------------------------------- Fig. 10


def test_plot_cross_dataset_one_panel_per_model_and_checkpoint(tmp_path, drawn):
    table = _cross_dataset().sample(frac=1.0, random_state=2)
    paths = _paths(tmp_path, "fig10")
    data = plots.plot_cross_dataset(table, paths, ORDER, CHECKPOINTS)
    _assert_figure_files(paths)
    _, axes = _grid(drawn[-1])
    panels = [(m, c) for m in pd.unique(table["model"]) for c in ("step1", "step143000")]  # models: table order
    assert [ax.get_title() for ax in axes] == [f"{m} @ {c}" for m, c in panels]
    expected_labels = ["experts: Jaccard (τ = 0.5)", "experts: cosine", "experts: 1 − Hellinger²",
                       "word embedding", "sentence-pool embedding", "lexical"]
    for ax, (model, checkpoint) in zip(axes, panels):
        assert [t.get_text() for t in ax.get_xticklabels()] == ORDER
        series = _series(ax)
        assert list(series) == expected_labels  # experts first, then embeddings, then lexical
        rows = table[(table["model"] == model) & (table["checkpoint"] == checkpoint)]
        for label in expected_labels:
            x, y = series[label]
            assert np.all(np.diff(x) > 0.5) and np.all(np.abs(x - np.arange(len(ORDER))) < 0.5)
            method = data.loc[data["label"] == label, "method"].iloc[0]
            want = rows[rows["method"] == method].set_index("dataset").loc[ORDER]
            np.testing.assert_allclose(y, want["mean"])
            np.testing.assert_allclose(_error_bars(ax, label), want[["ci_low", "ci_high"]])
        fold_bars = [c for c in ax.collections if c.get_label() != plots.CEILING_LABEL
                     and c.get_linewidth()[0] == 5]
        spans = sorted((s[0][1], s[1][1]) for c in fold_bars for s in c.get_segments())
        experts = rows[rows["kind"] == "experts"]
        np.testing.assert_allclose(spans, sorted(zip(experts["min"], experts["max"])))  # only where n_folds > 1
        np.testing.assert_allclose(sorted(_ceiling_ys(ax)), [(0.78, 0.78), (0.84, 0.84)])  # none for WordSim-353
        segments = [s for c in ax.collections if c.get_label() == plots.CEILING_LABEL for s in c.get_segments()]
        centres = sorted((s[0][0] + s[1][0]) / 2 for s in segments)
        assert centres == pytest.approx([ORDER.index("MEN"), ORDER.index("SimLex-999")])
    assert len(data) == len(table)
    assert data.set_index("dataset")["ceiling"].groupby(level=0).first().to_dict() == pytest.approx(
        {"MEN": 0.84, "SimLex-999": 0.78, "WordSim-353": np.nan}, nan_ok=True)


def test_plot_cross_dataset_keeps_chosen_checkpoints_and_names_bad_tables(tmp_path, drawn):
    table = _cross_dataset()
    paths = _paths(tmp_path, "fig10")
    data = plots.plot_cross_dataset(table, paths, None, CHECKPOINTS, checkpoints=["step143000"])
    assert set(data["checkpoint"]) == {"step143000"}
    assert len(_grid(drawn[-1])[1]) == len(MODELS)
    assert list(pd.unique(data["dataset"])) == DATASETS
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['ceiling'\]"):
        plots.plot_cross_dataset(table.drop(columns="ceiling"), paths, ORDER, CHECKPOINTS)
    with pytest.raises(ValueError, match="no rows for dataset.*RG-65"):
        plots.plot_cross_dataset(table, paths, [*ORDER, "RG-65"], CHECKPOINTS)
    with pytest.raises(ValueError, match="several ceilings"):
        bad = table.copy()
        bad.loc[(bad["dataset"] == "MEN") & (bad["model"] == MODELS[0]), "ceiling"] = 0.5
        plots.plot_cross_dataset(bad, paths, ORDER, CHECKPOINTS)
    with pytest.raises(ValueError, match="kind.*'probe'"):
        plots.plot_cross_dataset(table.assign(kind=table["kind"].replace("lexical", "probe")), paths, ORDER,
                                 CHECKPOINTS)
    with pytest.raises(ValueError, match="repeats"):
        plots.plot_cross_dataset(pd.concat([table, table.iloc[[0]]]), paths, ORDER, CHECKPOINTS)
    with pytest.raises(ValueError, match="step143000"):
        plots.plot_cross_dataset(table, paths, ORDER, ["step1"])


# ----------------------------------------------------------------------------- figure registry


def test_every_figure_rule_is_registered():
    import re

    smk = (Path(__file__).resolve().parents[1] / "rules" / "figures.smk").read_text(encoding="utf-8")
    rules = re.findall(r"^rule (\w+):(.*?)(?=^rule |\Z)", smk, flags=re.M | re.S)
    drawn_by_script = [name for name, body in rules if "scripts/figure.py" in body]
    assert drawn_by_script and set(drawn_by_script) <= set(plots.FIGURES)
    with pytest.raises(ValueError, match="no figure is registered for rule 'fig99'"):
        plots.draw_figure("fig99", {}, {}, {}, [])
    with pytest.raises(ValueError, match="registered twice"):
        plots.figure("fig2_alignment")(lambda *a: None)


def test_registry_draws_from_rule_inputs_and_params(tmp_path, drawn):
    params = dict(checkpoint_order=CHECKPOINTS, score="ap", stats=dict(bootstrap_resamples=50, seed=0),
                  datasets=ORDER, ceilings=CEILINGS)
    summary = _alignment_summary()
    fig2 = plots.draw_figure("fig2_alignment", dict(table=summary, lexical=_lexical()), params, {},
                             _paths(tmp_path, "fig2"))
    assert list(pd.unique(fig2.loc[fig2["kind"] == "expert jaccard", "dataset"])) == ORDER
    assert _grid(drawn[-1])[0] == (len(TAUS), len(ORDER))
    fig3 = plots.draw_figure("fig3_embedding_baseline", dict(table=_embedding(), alignment=summary),
                             {**params, "tau": 0.7}, {}, _paths(tmp_path, "fig3"))
    assert "experts: Jaccard (τ = 0.7)" in set(fig3["label"])
    fig8 = plots.draw_figure("fig8_cosine_variants", dict(table=summary), params, {}, _paths(tmp_path, "fig8"))
    assert "hellinger" in set(fig8["measure"])
    fig10 = plots.draw_figure("fig10_cross_dataset", dict(table=_cross_dataset()),
                              {**params, "cross_dataset_checkpoints": ["step1"]}, {}, _paths(tmp_path, "fig10"))
    assert set(fig10["checkpoint"]) == {"step1"} and list(pd.unique(fig10["dataset"])) == ORDER
    layers = plots.draw_figure("fig7_layer_distribution", dict(table=_layer_distribution()), params,
                               dict(model="m", view="attention_tau0.5"), _paths(tmp_path, "fig7"))
    assert set(layers["block"]) == {"attention"}
    _assert_figure_files(_paths(tmp_path, "fig10"))


# ----------------------------------------------------------------------------- Fig. 4


def test_plot_hierarchy_heatmap_is_symmetric_ordered_by_domain_and_averages_folds(tmp_path):
    domains = _hierarchy_domains()
    pairs = _hierarchy_pairs(domains)
    two_folds = pd.concat([pairs, pairs.assign(fold=1, overlap=pairs["overlap"] + 2.0)])
    paths = _paths(tmp_path, "fig4")
    matrix = plots.plot_hierarchy_heatmap(two_folds, "m", "final", paths, domains=domains)
    _assert_figure_files(paths)
    assert list(matrix.index) == list(domains["concept"])  # super first, then subs, file order
    values = matrix.to_numpy()
    np.testing.assert_array_equal(values, values.T)
    assert np.isnan(np.diag(values)).all()
    for row in pairs.itertuples():
        assert matrix.loc[row.concept_a, row.concept_b] == pytest.approx(row.overlap + 1.0)


def test_plot_hierarchy_heatmap_rejects_conflicting_pairs(tmp_path):
    domains = _hierarchy_domains()
    pairs = _hierarchy_pairs(domains)
    flipped = pairs.iloc[[0]].rename(columns={"concept_a": "concept_b", "concept_b": "concept_a",
                                              "domain_a": "domain_b", "domain_b": "domain_a"})
    conflicting = pd.concat([pairs, flipped.assign(overlap=flipped["overlap"] + 1)])
    with pytest.raises(ValueError, match="two overlaps"):
        plots.plot_hierarchy_heatmap(conflicting, "m", "final", _paths(tmp_path, "x"))


# ----------------------------------------------------------------------------- Fig. 5, 6


@pytest.mark.parametrize("normalised", [False, True])
def test_plot_expert_counts_plots_mean_over_concepts_with_ci(tmp_path, normalised):
    counts = _expert_counts()
    counts.loc[counts["tau"] == 0.7, "n_experts"] = 0  # a zero mean cannot sit on a log axis
    counts["fraction"] = counts["n_experts"] / counts["n_units"]
    paths = _paths(tmp_path, f"fig5_{normalised}")
    data = plots.plot_expert_counts(counts, CHECKPOINTS, paths, normalised=normalised,
                                    n_resamples=N_RESAMPLES, seed=4)
    _assert_figure_files(paths)
    value = "fraction" if normalised else "n_experts"
    by = ["tau", "model", "checkpoint"]
    per_fold = stats.mean_ci_table(counts, by=[*by, "fold"], value=value, n_resamples=N_RESAMPLES, seed=4)
    oracle = per_fold.groupby(by).agg(mean=("mean", "mean"), min=("mean", "min"), max=("mean", "max"),
                                      ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean")).reset_index()
    merged = data.merge(oracle, on=by, suffixes=("", "_oracle"))
    assert len(merged) == len(data) == len(TAUS) * len(MODELS) * len(CHECKPOINTS)
    for column in ["mean", "min", "max", "ci_low", "ci_high"]:
        np.testing.assert_allclose(merged[column], merged[f"{column}_oracle"])
    assert (data["n_folds"] == 2).all() and (data["n_concepts"] == len(CONCEPTS)).all()
    for _, series in data.groupby(["tau", "model"]):
        assert list(series["checkpoint"]) == CHECKPOINTS


def test_plot_expert_counts_with_a_single_checkpoint(tmp_path):
    counts = _expert_counts(checkpoints=["final"])
    paths = _paths(tmp_path, "fig5_single")
    data = plots.plot_expert_counts(counts, ["init", "final"], paths, n_resamples=N_RESAMPLES)
    _assert_figure_files(paths)
    assert set(data["checkpoint"]) == {"final"}


def test_plot_checkpoint_stability_orders_transitions_and_counts_empty_unions_as_zero(tmp_path):
    stability = _checkpoint_stability().sample(frac=1.0, random_state=1)
    paths = _paths(tmp_path, "fig6")
    data = plots.plot_checkpoint_stability(stability, CHECKPOINTS, paths, n_resamples=N_RESAMPLES)
    _assert_figure_files(paths)
    for _, series in data.groupby(["tau", "model"]):
        assert list(series["transition"]) == ["1→512", "512→143000"]
    by = ["tau", "model", "checkpoint"]
    fold_means = stability.groupby([*by, "fold"])["jaccard"].mean()  # the empty unions' zeros included
    got = data.assign(checkpoint=data["transition"].map({"1→512": "step1",
                                                         "512→143000": "step512"})).set_index(by)
    for column, how in [("mean", "mean"), ("min", "min"), ("max", "max")]:
        expected = fold_means.groupby(level=by).agg(how)
        pd.testing.assert_series_equal(got[column].sort_index(), expected.sort_index(), check_names=False)
    assert (data["n_concepts"] == len(CONCEPTS)).all()
    assert data["n_empty_union"].sum() * 2 == stability["empty_union"].sum()  # per-fold mean, 2 folds


# ----------------------------------------------------------------------------- Fig. 7


def test_plot_layer_distribution_totals_and_depth(tmp_path):
    layers = _layer_distribution()
    paths = _paths(tmp_path, "fig7")
    data = plots.plot_layer_distribution(layers, "m", CHECKPOINTS, paths, tau=0.5)
    _assert_figure_files(paths)
    totals = data[data["panel"] == "total_experts"].set_index(["checkpoint", "block"])["value"]
    expected = layers.groupby(["checkpoint", "block"])["total_experts"].sum()
    pd.testing.assert_series_equal(totals.sort_index(), expected.sort_index(), check_names=False)
    per_unit = data[data["panel"] == "experts_per_unit"].set_index(["checkpoint", "block"])["value"]
    sums = layers.groupby(["checkpoint", "block"])[["mean_experts", "n_units"]].sum()
    pd.testing.assert_series_equal(per_unit.sort_index(),
                                   (sums["mean_experts"] / sums["n_units"]).sort_index(),
                                   check_names=False)
    depth = data[data["panel"] == "depth"]
    assert list(pd.unique(depth["checkpoint"])) == CHECKPOINTS
    # MLP, layer 2, step512: sublayers 0 and 1 summed
    one = depth[(depth["checkpoint"] == "step512") & (depth["layer"] == 2)]["value"]
    assert one.tolist() == [(1 + 1 + 20 + 1000) + (1 + 1 + 20 + 100 + 1000)]


def test_layer_figures_average_every_fold(tmp_path):
    one = _layer_distribution()
    two = pd.concat([one, one.assign(fold=1, mean_experts=one["mean_experts"] + 4, total_experts=0.0)])
    paths = _paths(tmp_path, "fig7_folds")
    data = plots.plot_layer_distribution(two, "m", CHECKPOINTS, paths, block="mlp")
    expected = one[one["block"] == "mlp"].groupby(["checkpoint", "layer"])["mean_experts"].sum() + 2 * 2
    got = data.set_index(["checkpoint", "layer"])["value"]  # two mlp sublayers, each +2 on average
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    data = plots.plot_layer_distribution(two, "m", CHECKPOINTS, paths, block="mlp", fold=1)
    assert data["value"].min() == pytest.approx(expected.min() + 4)
    sublayers = plots.plot_sublayer_distribution(two, "m", CHECKPOINTS, paths)
    got = sublayers.set_index(["block", "sublayer", "checkpoint", "layer"])["value"]
    pd.testing.assert_series_equal(
        got.sort_index(),
        (one.set_index(["block", "sublayer", "checkpoint", "layer"])["mean_experts"] + 2).sort_index(),
        check_names=False,
    )


@pytest.mark.parametrize("kwargs, expected_sublayers", [
    ({"block": "attention"}, ["query_key_value", "dense"]),
    ({"sublayer": "dense_h_to_4h"}, ["dense_h_to_4h"]),
])
def test_plot_layer_distribution_variants(tmp_path, kwargs, expected_sublayers):
    layers = _layer_distribution()
    paths = _paths(tmp_path, "fig7_variant")
    data = plots.plot_layer_distribution(layers, "m", CHECKPOINTS, paths, **kwargs)
    _assert_figure_files(paths)
    assert set(data["panel"]) == {"depth"}
    chosen = layers[layers["sublayer"].isin(expected_sublayers)]
    expected = chosen.groupby(["checkpoint", "layer"])["mean_experts"].sum()
    got = data.set_index(["checkpoint", "layer"])["value"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    with pytest.raises(ValueError, match="sublayer"):
        plots.plot_layer_distribution(layers, "m", CHECKPOINTS, paths, sublayer="no_such")


def test_plot_sublayer_distribution_one_panel_per_sublayer(tmp_path):
    layers = _layer_distribution()
    other_tau = layers.assign(tau=0.9, mean_experts=-1.0)  # must not be plotted
    paths = _paths(tmp_path, "appF_sublayers")
    data = plots.plot_sublayer_distribution(pd.concat([layers, other_tau]), "m", CHECKPOINTS, paths, tau=0.5)
    _assert_figure_files(paths)
    assert list(pd.unique(data["panel"])) == [
        "mlp.dense_h_to_4h", "mlp.dense_4h_to_h", "attention.query_key_value", "attention.dense"]
    expected = layers.set_index(["block", "sublayer", "checkpoint", "layer"])["mean_experts"]
    got = data.set_index(["block", "sublayer", "checkpoint", "layer"])["value"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    with pytest.raises(ValueError, match="model"):
        plots.plot_sublayer_distribution(layers, "no_such", CHECKPOINTS, paths)


# ----------------------------------------------------------------------------- Table 2


def test_hierarchy_tables_summarise_folds_with_two_decimals():
    hierarchy = _hierarchy()
    table = plots.hierarchy_csv_table(hierarchy, "m", "final")
    assert list(table["domain"]) == ["animal", "colour"]
    animal = table.iloc[0]
    assert animal["overlap"] == pytest.approx((42.456 + 1.0) / 2)  # mean over folds 0 and 1
    assert animal["overlap_sd"] == pytest.approx(np.std([42.456, 1.0], ddof=1))
    assert (animal["overlap_min"], animal["overlap_max"], animal["n_folds"]) == (1.0, 42.456, 2)
    assert animal["baseline1"] == pytest.approx((0.581 + 1.0) / 2)
    assert table.iloc[1]["n_empty_intersection"] == 1
    tests = pd.DataFrame([dict(model="m", checkpoint="final", fold=fold, score="ap", tau=0.5,
                               baseline="baseline1", mean_real=42.5, mean_baseline=2.7,
                               statistic=39.8, p_value=p) for fold, p in [(0, 0.0004), (1, 0.2), (2, 0.01)]])
    markdown = plots.hierarchy_markdown(hierarchy, "m", "final", tests=tests)
    lines = markdown.splitlines()
    assert "| Domain | % overlap | ± sd (min–max) over folds | baseline 1 | baseline 2 |" in lines
    assert "| animal | 21.73 | ± 29.31 (1.00–42.46) | 0.79 | 4.66 |" in lines
    assert "| colour † | n/a | ± n/a (n/a–n/a) | 4.83 | 2.66 |" in lines
    assert any(line.startswith("Permutation test, real domains vs baseline1") and "median p = 0.01"
               in line and "n folds = 3" in line and "range 0.0004–0.2" in line for line in lines)
    assert "n folds = 2" in lines[0]


# ----------------------------------------------------------------------------- report captions

CAPTIONS = ["fig1_stability", "fig2_alignment", "fig3_embedding_baseline", "fig4_hierarchy_heatmap",
            "fig5_expert_counts", "fig6_checkpoint_stability", "fig7_layer_distribution",
            "fig8_cosine_variants", "fig10_cross_dataset", "hierarchy_table", "appF_sublayer_distribution"]


@pytest.mark.parametrize("name", CAPTIONS)
def test_report_caption_is_clean_restructuredtext(name):
    docutils_core = pytest.importorskip("docutils.core")
    path = Path(__file__).resolve().parents[1] / "workflow" / "report" / f"{name}.rst"
    text = path.read_text(encoding="utf-8")
    assert "How to read it" in text and "``score``" in text
    docutils_core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})
