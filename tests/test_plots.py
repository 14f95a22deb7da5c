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


def _alignment(checkpoints=CHECKPOINTS, folds=(0, 1)):
    """alignment.csv rows: jaccard at each tau and the two cosine measures; fold 1 differs."""
    rows = []
    for fold in folds:
        for m, model in enumerate(MODELS):
            for c, checkpoint in enumerate(checkpoints):
                measures = [("jaccard", tau) for tau in TAUS]
                measures += [("cosine", np.nan), ("cosine_centered", np.nan)]
                for measure, tau in measures:
                    r = _spearman(m, c, 0 if np.isnan(tau) else tau) + fold
                    r += {"jaccard": 0.0, "cosine": -0.03, "cosine_centered": 0.02}[measure]
                    rows.append(dict(model=model, checkpoint=checkpoint, fold=fold, score="ap",
                                     measure=measure, tau=tau, n_pairs=50, n_empty_union=0,
                                     n_degenerate_resamples=0, spearman=r, p_value=0.01, ci_low=r - 0.05, ci_high=r + 0.04))
    return pd.DataFrame(rows)


def _lexical():
    return pd.DataFrame([dict(measure="lexical", weighting="binary", n_pairs=50, spearman=0.3,
                              p_value=0.02, ci_low=0.2, ci_high=0.4)])


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


# ----------------------------------------------------------------------------- Fig. 2


def test_plot_alignment_plots_fold_mean_and_range_in_checkpoint_order(tmp_path):
    alignment = _alignment().sample(frac=1.0, random_state=0)  # rows in no particular order
    paths = _paths(tmp_path, "fig2")
    data = plots.plot_alignment(alignment, CHECKPOINTS, paths, lexical=_lexical())
    _assert_figure_files(paths)
    points = data[data["kind"] == "expert jaccard"]
    assert len(points) == len(MODELS) * len(CHECKPOINTS) * len(TAUS)
    for (model, tau), series in points.groupby(["model", "tau"]):
        assert list(series["checkpoint"]) == CHECKPOINTS
        np.testing.assert_allclose(np.diff(series["x"]), 1.0)
        m = MODELS.index(model)
        fold0 = np.array([_spearman(m, c, tau) for c in range(len(CHECKPOINTS))])  # fold 1 = fold 0 + 1
        np.testing.assert_allclose(series["mean"], fold0 + 0.5)
        np.testing.assert_allclose(series["min"], fold0)
        np.testing.assert_allclose(series["max"], fold0 + 1.0)
        np.testing.assert_allclose(series["sd"], np.std([0.0, 1.0], ddof=1))
        np.testing.assert_allclose(series["ci_low"], fold0 + 0.5 - 0.05)  # mean of the folds' CI bounds
        assert (series["n_folds"] == 2).all()
    line = data[data["kind"] == "lexical baseline"]
    assert line[["mean", "ci_low", "ci_high"]].values.tolist() == [[0.3, 0.2, 0.4]]


def test_plot_alignment_survives_nan_statistics_and_single_checkpoint(tmp_path):
    alignment = _alignment(checkpoints=["final"], folds=(0,))
    alignment.loc[alignment["tau"] == 0.7, ["spearman", "p_value", "ci_low", "ci_high"]] = np.nan
    paths = _paths(tmp_path, "fig2_single")
    data = plots.plot_alignment(alignment, ["init", "final"], paths)
    _assert_figure_files(paths)
    assert set(data["checkpoint"]) == {"final"}
    assert data.loc[data["tau"] == 0.7, "mean"].isna().all()
    assert data.loc[data["tau"] == 0.5, "mean"].notna().all()
    assert (data.loc[data["tau"] == 0.5, "n_folds"] == 1).all()


def test_plot_alignment_rejects_unknown_checkpoint_and_ambiguous_score(tmp_path):
    alignment = _alignment()
    with pytest.raises(ValueError, match="step143000"):
        plots.plot_alignment(alignment, ["step1", "step512"], _paths(tmp_path, "x"))
    two_scores = pd.concat([alignment, alignment.assign(score="auroc")])
    with pytest.raises(ValueError, match="score="):
        plots.plot_alignment(two_scores, CHECKPOINTS, _paths(tmp_path, "x"))
    data = plots.plot_alignment(two_scores, CHECKPOINTS, _paths(tmp_path, "x"), score="auroc")
    assert len(data) == len(MODELS) * len(CHECKPOINTS) * len(TAUS)


# ----------------------------------------------------------------------------- Fig. 3, 8


def test_plot_embedding_baseline_compares_with_jaccard_at_tau(tmp_path):
    embedding = pd.DataFrame([dict(model=model, checkpoint=checkpoint, pooling="mean", n_pairs=50,
                                   spearman=0.01 * c, p_value=0.5, ci_low=-0.1, ci_high=0.1)
                              for model in MODELS for c, checkpoint in enumerate(CHECKPOINTS)])
    paths = _paths(tmp_path, "fig3")
    data = plots.plot_embedding_baseline(embedding, _alignment(), CHECKPOINTS, paths, tau=0.5)
    _assert_figure_files(paths)
    cosine = data[data["kind"] == "embedding cosine"]
    experts = data[data["kind"] == "expert jaccard"]
    assert len(cosine) == len(experts) == len(MODELS) * len(CHECKPOINTS)
    np.testing.assert_allclose(cosine.groupby("model", sort=False)["mean"].apply(list).iloc[0],
                               [0.0, 0.01, 0.02])
    assert (cosine["bar_low"] == -0.1).all() and cosine["n_folds"].isna().all()  # no folds: its CI
    first = experts[experts["model"] == MODELS[0]]
    fold0 = np.array([_spearman(0, c, 0.5) for c in range(len(CHECKPOINTS))])
    np.testing.assert_allclose(first["mean"], fold0 + 0.5)
    np.testing.assert_allclose(first["bar_low"], fold0)
    np.testing.assert_allclose(first["bar_high"], fold0 + 1.0)


def test_plot_cosine_variants_draws_three_measures_per_model(tmp_path):
    paths = _paths(tmp_path, "fig8")
    data = plots.plot_cosine_variants(_alignment(), CHECKPOINTS, paths)
    _assert_figure_files(paths)
    assert set(data["measure"]) == {"cosine", "cosine_centered", "jaccard"}
    assert len(data) == 3 * len(MODELS) * len(CHECKPOINTS)
    jaccard = data[(data["measure"] == "jaccard") & (data["model"] == MODELS[1])]
    np.testing.assert_allclose(jaccard["mean"],
                               [_spearman(1, c, 0.5) + 0.5 for c in range(len(CHECKPOINTS))])
    assert (data["n_folds"] == 2).all()


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
            "fig8_cosine_variants", "hierarchy_table", "appF_sublayer_distribution"]


@pytest.mark.parametrize("name", CAPTIONS)
def test_report_caption_is_clean_restructuredtext(name):
    docutils_core = pytest.importorskip("docutils.core")
    path = Path(__file__).resolve().parents[1] / "workflow" / "report" / f"{name}.rst"
    text = path.read_text(encoding="utf-8")
    assert "How to read it" in text and "``score``" in text
    docutils_core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})
