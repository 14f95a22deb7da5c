# What each stage produces: settings, table parts, figure outputs and the targets of `rule all`.
# Functions only (rules live in the stage files), included right after common.smk.
from expertalign.config import ConfigError
from expertalign.sources import is_causal_lm

# Sentences
SENTENCES = config["sentences"]
GENERATED = SENTENCES["backend"] in ("openai", "hf")


def sentence_backend_settings():
    """The settings block of the configured sentence backend (no secrets: keys stay in the env)."""
    return SENTENCES.get(SENTENCES["backend"], {})


# Analyses
STATS = config["statistics"]
ANALYSIS_TABLES = [
    "hierarchy",
    "hierarchy_tests",
    "hierarchy_pairs",
    "expert_counts",
    "layer_distribution",
]
ALIGNMENT_TABLES = ["alignment", "partial_alignment"]  # per fold and dataset


def table_parts(wildcards):
    """Per-job CSV parts gathered into results/tables/{table}.csv."""
    name = wildcards.table
    folds = "results/analysis/{m}/{c}/fold{f}/"
    if name in ANALYSIS_TABLES:
        return [f"{folds}{name}.csv".format(m=m, c=c, f=f) for m, c in model_checkpoints() for f in FOLDS]
    if name in ALIGNMENT_TABLES:
        return [
            f"{folds}{d}/{name}.csv".format(m=m, c=c, f=f)
            for d in DATASETS
            for m, c in model_checkpoints()
            for f in FOLDS
        ]
    if name == "checkpoint_stability":
        return [
            f"{folds}stability_to_{n}.csv".format(m=m, c=c, f=f) for m, c, n in consecutive_checkpoints() for f in FOLDS
        ]
    if name == "embedding_baseline":
        return [f"results/analysis/{m}/{c}/{d}/embedding.csv" for d in DATASETS for m, c in model_checkpoints()]
    if name == "lexical_baseline":
        return [f"results/lexical/{d}/lexical.csv" for d in DATASETS]
    if name == "fold_stability":
        main = (
            [f"results/analysis/{m}/{c}/fold_stability.csv" for m, c in model_checkpoints()] if len(FOLDS) > 1 else []
        )
        pilot = [
            f"results/pilot/analysis/{s}/{PILOT['model']}/{PILOT['checkpoint']}/P{p}_N{n}.csv"
            for s in PILOT_SOURCES
            for p, n in PILOT_SIZES
        ]
        return main + pilot
    if name == "sentence_diversity":
        pilot = (
            [f"results/pilot/sentences/{s}/diversity.csv" for s in PILOT_SOURCES if s != "main"] if PILOT_SIZES else []
        )
        return ["results/sentences/diversity.csv"] + pilot
    raise ValueError(f"no table named {name}")


SUMMARISED_TABLES = ["alignment", "expert_counts", "checkpoint_stability", "hierarchy", "hierarchy_tests"]


# Figures
FIG = "results/figures"
LAYER_VIEWS = [
    "overview",
    "mlp",
    "attention",
    f"mlp_tau{max(TAUS)}",
    f"attention_tau{max(TAUS)}",
]  # App. F: all, and most specialised
HAS_DYNAMICS = bool(consecutive_checkpoints())
HAS_STABILITY = len(FOLDS) > 1 or bool(PILOT_SIZES)
FIGURE_PARAMS = dict(
    checkpoint_order=list(dict.fromkeys(c for m in MODELS for c in checkpoints(m))),
    datasets=DATASETS,
    ceilings=DATASET_CEILINGS,
    tau=config["cross_dataset_tau"],
    score=SCORE,
    stats=STATS,
    hierarchy=HIERARCHY,
)


def figure_outputs(name, category, caption, **labels):
    """PDF and PNG outputs of one figure, the PNG registered in the report."""
    stem = f"{FIG}/{name}"
    return dict(
        pdf=f"{stem}.pdf",
        png=report(
            f"{stem}.png", caption=f"../workflow/report/{caption}.rst", category=category, labels=labels or None
        ),
    )


def all_targets():
    """Every figure and table the configuration can produce."""
    targets = [
        f"{FIG}/fig2_alignment.pdf",
        f"{FIG}/fig3_embedding_baseline.pdf",
        f"{FIG}/fig5_expert_counts.pdf",
        f"{FIG}/fig8_cosine_variants.pdf",
        "results/tables/partial_alignment.csv",
        "results/tables/hierarchy_tests.csv",
        "results/tables/sentence_diversity.csv",
        "results/tables/cross_dataset.csv",
        f"{FIG}/fig10_cross_dataset.pdf",
    ]
    targets += [
        f"results/tables/{name}_summary.csv" for name in ("alignment", "expert_counts", "hierarchy", "hierarchy_tests")
    ]
    targets += expand(f"{FIG}/layers/fig7_layer_distribution_{{model}}_{{view}}.pdf", model=MODELS, view=LAYER_VIEWS)
    targets += expand(f"{FIG}/layers/appF_sublayer_distribution_{{model}}.pdf", model=MODELS)
    if HAS_HIERARCHY:
        for m, c in model_checkpoints():
            targets += [
                f"{FIG}/hierarchy/fig4_hierarchy_heatmap_{m}_{c}.pdf",
                f"results/tables/hierarchy/table_{m}_{c}.md",
            ]
    if HAS_DYNAMICS:
        targets.append(f"{FIG}/fig6_checkpoint_stability.pdf")
        targets.append("results/tables/checkpoint_stability_summary.csv")
    if HAS_STABILITY:
        targets.append(f"{FIG}/fig1_stability.pdf")
    targets += intervention_targets()
    return targets


# Causal check
INTERVENTION = config["intervention"]
INTERVENTION_MODELS = [m for m, spec in MODELS.items() if is_causal_lm(spec["source"], spec["family"])]


def intervention_concepts():
    """Concepts of the causal check: every analysed concept, the hierarchy's, or the configured list."""
    chosen = INTERVENTION["concepts"]
    if chosen == "all":
        return CONCEPTS
    if chosen == "hierarchy":
        return [c for c in CONCEPTS if c in set(HIERARCHY["concept"])]
    unknown = [c for c in chosen if c not in CONCEPTS]
    if unknown:
        raise ConfigError("intervention.concepts", f"{unknown[:5]} are not among the analysed concepts")
    return list(chosen)


def intervention_targets():
    """The causal check's table and figures when enabled: causal LMs only."""
    if not INTERVENTION["enabled"]:
        return []
    figures = [
        f"{FIG}/intervention/fig9_intervention_{m}_{c}.pdf" for m, c in model_checkpoints() if m in INTERVENTION_MODELS
    ]
    return ["results/tables/intervention.csv", *figures] if figures else []
