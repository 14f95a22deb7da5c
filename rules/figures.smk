# Figures (PDF + PNG) and the hierarchy tables, each registered in the HTML report.
rule fig1_stability:
    input:
        table="results/tables/fold_stability.csv",
        diversity="results/tables/sentence_diversity.csv",
    output:
        **figure_outputs("fig1_stability", "1 Expert stability", "fig1_stability", figure="Fig. 1"),
    log:
        "logs/figures/fig1_stability.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
    script:
        "../workflow/scripts/figure.py"


rule fig2_alignment:
    input:
        table="results/tables/alignment_summary.csv",
        lexical="results/tables/lexical_baseline.csv",
    output:
        **figure_outputs("fig2_alignment", "2 Alignment with humans", "fig2_alignment", figure="Fig. 2"),
    log:
        "logs/figures/fig2_alignment.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
    script:
        "../workflow/scripts/figure.py"


rule fig3_embedding_baseline:
    input:
        table="results/tables/embedding_baseline.csv",
        alignment="results/tables/alignment_summary.csv",
    output:
        **figure_outputs(
            "fig3_embedding_baseline", "2 Alignment with humans", "fig3_embedding_baseline", figure="Fig. 3"
        ),
    log:
        "logs/figures/fig3_embedding_baseline.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
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
    log:
        "logs/figures/fig4_hierarchy_heatmap_{model}_{checkpoint}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
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
    log:
        "logs/figures/fig5_expert_counts.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
    script:
        "../workflow/scripts/figure.py"


rule fig6_checkpoint_stability:
    input:
        table="results/tables/checkpoint_stability.csv",
    output:
        **figure_outputs("fig6_checkpoint_stability", "4 Model knowledge", "fig6_checkpoint_stability", figure="Fig. 6"),
    log:
        "logs/figures/fig6_checkpoint_stability.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
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
    log:
        "logs/figures/fig7_layer_distribution_{model}_{view}.log",
    wildcard_constraints:
        view="|".join(map(re.escape, LAYER_VIEWS)),
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
    script:
        "../workflow/scripts/figure.py"


rule fig8_cosine_variants:
    input:
        table="results/tables/alignment_summary.csv",
    output:
        **figure_outputs("fig8_cosine_variants", "2 Alignment with humans", "fig8_cosine_variants", figure="Fig. 8"),
    log:
        "logs/figures/fig8_cosine_variants.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
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
    log:
        "logs/figures/appF_sublayer_distribution_{model}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
    script:
        "../workflow/scripts/figure.py"


rule fig10_cross_dataset:
    input:
        table="results/tables/cross_dataset.csv",
    output:
        **figure_outputs("fig10_cross_dataset", "2 Alignment with humans", "fig10_cross_dataset", figure="Fig. 10"),
    log:
        "logs/figures/fig10_cross_dataset.log",
    conda:
        "../envs/analysis.yaml"
    params:
        **FIGURE_PARAMS,
        cross_dataset_checkpoints=config["cross_dataset_checkpoints"],
    script:
        "../workflow/scripts/figure.py"
