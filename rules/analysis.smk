# Analyses: every quantitative result, per model x checkpoint x fold, then gathered into tidy tables.
# Taus and statistics settings are params of these rules only, so changing them never reruns extraction.
rule lexical_baseline:
    input:
        pool="results/sentences/pool.parquet",
    output:
        similarity="results/lexical/similarity.npz",
    log:
        "logs/lexical_baseline.log",
    conda:
        "../envs/analysis.yaml"
    params:
        weighting=config["baselines"]["lexical_weighting"],
    script:
        "../workflow/scripts/lexical_baseline.py"


rule analyse:
    input:
        scores="results/ap/{model}/{checkpoint}/fold{fold}.npz",
        units="results/units/{model}.parquet",
    output:
        **{name: f"results/analysis/{{model}}/{{checkpoint}}/fold{{fold}}/{name}.csv" for name in ANALYSIS_TABLES},
        similarity="results/analysis/{model}/{checkpoint}/fold{fold}/similarity.npz",
    log:
        "logs/analyse/{model}/{checkpoint}/fold{fold}.log",
    benchmark:
        "results/benchmarks/analyse/{model}/{checkpoint}/fold{fold}.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=8000,
    params:
        score=SCORE,
        taus=TAUS,
        hierarchy_tau=config["hierarchy_tau"],
        hierarchy=HIERARCHY,
        stats=STATS,
    script:
        "../workflow/scripts/analyse.py"


rule align:
    input:
        similarity="results/analysis/{model}/{checkpoint}/fold{fold}/similarity.npz",
        pairs=expand("results/datasets/{dataset}/pairs.csv", dataset=DATASETS),
        lexical="results/lexical/similarity.npz",
    output:
        alignment=expand(
            "results/analysis/{{model}}/{{checkpoint}}/fold{{fold}}/{dataset}/alignment.csv", dataset=DATASETS
        ),
        partial_alignment=expand(
            "results/analysis/{{model}}/{{checkpoint}}/fold{{fold}}/{dataset}/partial_alignment.csv", dataset=DATASETS
        ),
    log:
        "logs/align/{model}/{checkpoint}/fold{fold}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        datasets=DATASETS,
        score=SCORE,
        stats=STATS,
    script:
        "../workflow/scripts/align.py"


rule embedding_align:
    input:
        similarity="results/analysis/{model}/{checkpoint}/embedding_similarity.npz",
        pairs=expand("results/datasets/{dataset}/pairs.csv", dataset=DATASETS),
    output:
        csv=expand("results/analysis/{{model}}/{{checkpoint}}/{dataset}/embedding.csv", dataset=DATASETS),
    log:
        "logs/embedding_align/{model}/{checkpoint}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        datasets=DATASETS,
        pooling=config["baselines"]["embedding_pooling"],
        stats=STATS,
    script:
        "../workflow/scripts/align.py"


rule lexical_align:
    input:
        similarity="results/lexical/similarity.npz",
        pairs=expand("results/datasets/{dataset}/pairs.csv", dataset=DATASETS),
    output:
        csv=expand("results/lexical/{dataset}/lexical.csv", dataset=DATASETS),
    log:
        "logs/lexical_align.log",
    conda:
        "../envs/analysis.yaml"
    params:
        datasets=DATASETS,
        weighting=config["baselines"]["lexical_weighting"],
        stats=STATS,
    script:
        "../workflow/scripts/align.py"


rule checkpoint_stability:
    input:
        current="results/ap/{model}/{checkpoint}/fold{fold}.npz",
        following="results/ap/{model}/{next}/fold{fold}.npz",
    output:
        csv="results/analysis/{model}/{checkpoint}/fold{fold}/stability_to_{next}.csv",
    log:
        "logs/checkpoint_stability/{model}/{checkpoint}_to_{next}/fold{fold}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        score=SCORE,
        taus=TAUS,
    script:
        "../workflow/scripts/checkpoint_stability.py"


rule fold_stability:
    input:
        folds=expand("results/ap/{{model}}/{{checkpoint}}/fold{fold}.npz", fold=FOLDS),
    output:
        csv="results/analysis/{model}/{checkpoint}/fold_stability.csv",
    log:
        "logs/fold_stability/{model}/{checkpoint}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        score=SCORE,
        taus=TAUS,
        positive_size=config["folds"]["positive_size"],
        negative_size=config["folds"]["negative_size"],
    script:
        "../workflow/scripts/fold_stability.py"


rule pilot_stability:
    input:
        folds=expand(
            "results/pilot/ap/{{source}}/{{model}}/{{checkpoint}}/P{{P}}_N{{N}}/fold{fold}.npz",
            fold=range(PILOT["n_folds"]),
        ),
    output:
        csv="results/pilot/analysis/{source}/{model}/{checkpoint}/P{P}_N{N}.csv",
    log:
        "logs/pilot_stability/{source}/{model}/{checkpoint}/P{P}_N{N}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        score=SCORE,
        taus=TAUS,
        positive_size=pilot_positive_size,
        negative_size=pilot_negative_size,
    script:
        "../workflow/scripts/fold_stability.py"


rule embedding_baseline:
    input:
        pool="results/sentences/pool.parquet",
    output:
        similarity="results/analysis/{model}/{checkpoint}/embedding_similarity.npz",
    log:
        "logs/embedding_baseline/{model}/{checkpoint}.log",
    benchmark:
        "results/benchmarks/embedding_baseline/{model}/{checkpoint}.tsv"
    conda:
        "../envs/model.yaml"
    threads: 2
    resources:
        gpu=gpus(),
        mem_mb=16000,
    params:
        spec=model_params,
        concepts=CONCEPTS,
        pooling=config["baselines"]["embedding_pooling"],
        max_sentences=config["baselines"]["contextual_sentences"],
        device=config["device"],
    script:
        "../workflow/scripts/embedding_baseline.py"


rule cross_dataset:
    input:
        alignment="results/tables/alignment_summary.csv",
        embedding="results/tables/embedding_baseline.csv",
        lexical="results/tables/lexical_baseline.csv",
    output:
        csv=report(
            "results/tables/cross_dataset.csv",
            caption="../workflow/report/cross_dataset.rst",
            category="2 Alignment with humans",
            labels={"table": "cross_dataset"},
        ),
    log:
        "logs/cross_dataset.log",
    conda:
        "../envs/analysis.yaml"
    params:
        tau=config["cross_dataset_tau"],
        ceilings=DATASET_CEILINGS,
    script:
        "../workflow/scripts/cross_dataset.py"


rule fold_summary:
    input:
        table="results/tables/{table}.csv",
    output:
        csv=report(
            "results/tables/{table}_summary.csv",
            caption="../workflow/report/fold_summary.rst",
            category="Tables",
            labels={"table": "{table}_summary"},
        ),
    log:
        "logs/fold_summary/{table}.log",
    wildcard_constraints:
        table="|".join(SUMMARISED_TABLES),
    conda:
        "../envs/analysis.yaml"
    params:
        stats=STATS,
    script:
        "../workflow/scripts/fold_summary.py"


rule gather_table:
    input:
        parts=table_parts,
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../workflow/report/tables.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    log:
        "logs/gather_table/{table}.log",
    wildcard_constraints:
        table="|".join(
            ANALYSIS_TABLES
            + ALIGNMENT_TABLES
            + [
                "checkpoint_stability",
                "embedding_baseline",
                "lexical_baseline",
                "fold_stability",
                "sentence_diversity",
            ]
        ),
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/gather_table.py"
