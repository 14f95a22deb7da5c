# Figures (PDF + PNG) and the hierarchy tables, each registered in the HTML report.
FIG = "results/figures"
LAYER_VIEWS = ["overview", "mlp", "attention", f"mlp_tau{max(TAUS)}", f"attention_tau{max(TAUS)}"]  # App. F: all, and most specialised
HAS_DYNAMICS = bool(consecutive_checkpoints())
HAS_STABILITY = len(FOLDS) > 1 or bool(PILOT_SIZES)
FIGURE_PARAMS = dict(
    checkpoint_order=list(dict.fromkeys(c for m in MODELS for c in checkpoints(m))),
    score=SCORE,
    stats=STATS,
    hierarchy=HIERARCHY,
)


def figure_outputs(name, category, caption, **labels):
    """PDF and PNG outputs of one figure, the PNG registered in the report."""
    stem = f"{FIG}/{name}"
    return dict(
        pdf=f"{stem}.pdf",
        png=report(f"{stem}.png", caption=f"../workflow/report/{caption}.rst", category=category, labels=labels or None),
    )


rule fig1_stability:
    input:
        table="results/tables/fold_stability.csv",
        diversity="results/tables/sentence_diversity.csv",
    output:
        **figure_outputs("fig1_stability", "1 Expert stability", "fig1_stability", figure="Fig. 1"),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig1_stability.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig2_alignment:
    input:
        table="results/tables/alignment.csv",
        lexical="results/tables/lexical_baseline.csv",
    output:
        **figure_outputs("fig2_alignment", "2 Alignment with humans", "fig2_alignment", figure="Fig. 2"),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig2_alignment.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig3_embedding_baseline:
    input:
        table="results/tables/embedding_baseline.csv",
        alignment="results/tables/alignment.csv",
    output:
        **figure_outputs(
            "fig3_embedding_baseline", "2 Alignment with humans", "fig3_embedding_baseline", figure="Fig. 3"
        ),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig3_embedding_baseline.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig4_hierarchy_heatmap:
    input:
        table="results/tables/hierarchy_pairs.csv",
    output:
        pdf=f"{FIG}/hierarchy/fig4_hierarchy_heatmap_{{model}}_{{checkpoint}}.pdf",
        png=report(
            f"{FIG}/hierarchy/fig4_hierarchy_heatmap_{{model}}_{{checkpoint}}.png",
            caption="../workflow/report/fig4_hierarchy_heatmap.rst",
            category="3 Hierarchy",
            labels={"model": "{model}", "checkpoint": "{checkpoint}", "figure": "Fig. 4 / App. E"},
        ),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig4_hierarchy_heatmap_{model}_{checkpoint}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule hierarchy_table:
    input:
        table="results/tables/hierarchy.csv",
        tests="results/tables/hierarchy_tests.csv",
    output:
        csv="results/tables/hierarchy/table_{model}_{checkpoint}.csv",
        md=report(
            "results/tables/hierarchy/table_{model}_{checkpoint}.md",
            caption="../workflow/report/hierarchy_table.rst",
            category="3 Hierarchy",
            labels={"model": "{model}", "checkpoint": "{checkpoint}", "figure": "Table 2 / App. D"},
        ),
    log:
        "logs/figures/hierarchy_table_{model}_{checkpoint}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/hierarchy_table.py"


rule fig5_expert_counts:
    input:
        table="results/tables/expert_counts.csv",
    output:
        **figure_outputs("fig5_expert_counts", "4 Model knowledge", "fig5_expert_counts", figure="Fig. 5"),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig5_expert_counts.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig6_checkpoint_stability:
    input:
        table="results/tables/checkpoint_stability.csv",
    output:
        **figure_outputs(
            "fig6_checkpoint_stability", "4 Model knowledge", "fig6_checkpoint_stability", figure="Fig. 6"
        ),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig6_checkpoint_stability.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig7_layer_distribution:
    input:
        table="results/tables/layer_distribution.csv",
    output:
        pdf=f"{FIG}/layers/fig7_layer_distribution_{{model}}_{{view}}.pdf",
        png=report(
            f"{FIG}/layers/fig7_layer_distribution_{{model}}_{{view}}.png",
            caption="../workflow/report/fig7_layer_distribution.rst",
            category="4 Model knowledge",
            labels={"model": "{model}", "view": "{view}", "figure": "Fig. 7 / App. F"},
        ),
    params:
        **FIGURE_PARAMS,
    wildcard_constraints:
        view="|".join(map(re.escape, LAYER_VIEWS)),
    log:
        "logs/figures/fig7_layer_distribution_{model}_{view}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule fig8_cosine_variants:
    input:
        table="results/tables/alignment.csv",
    output:
        **figure_outputs("fig8_cosine_variants", "2 Alignment with humans", "fig8_cosine_variants", figure="Fig. 8"),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/fig8_cosine_variants.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/figure.py"


rule appF_sublayer_distribution:
    input:
        table="results/tables/layer_distribution.csv",
    output:
        pdf=f"{FIG}/layers/appF_sublayer_distribution_{{model}}.pdf",
        png=report(
            f"{FIG}/layers/appF_sublayer_distribution_{{model}}.png",
            caption="../workflow/report/appF_sublayer_distribution.rst",
            category="4 Model knowledge",
            labels={"model": "{model}", "view": "sublayers", "figure": "App. F.4-F.7"},
        ),
    params:
        **FIGURE_PARAMS,
    log:
        "logs/figures/appF_sublayer_distribution_{model}.log",
    script:
        "../workflow/scripts/figure.py"


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
    ]
    targets += [f"results/tables/{name}_summary.csv" for name in ("alignment", "expert_counts", "hierarchy", "hierarchy_tests")]
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
