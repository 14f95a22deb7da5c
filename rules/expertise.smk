# Expert extraction: one job per model x checkpoint x concept shard loads its model once and scores the
# shard's concepts in every fold (scores only: AP, AUROC); a sentence that several folds use runs once
# when the responses fit the memory budget, else fold by fold.
# The pilot sweep is one job per sentence source and model checkpoint: every sentence of its folds runs once.
EXTRACTION_PARAMS = dict(
    pooling=config["pooling"], device=config["device"], score_dtype=config["extraction"]["score_dtype"]
)


rule units:
    output:
        units="results/units/{model}.parquet",
    log:
        "logs/units/{model}.log",
    conda:
        "../envs/model.yaml"
    resources:
        mem_mb=1000,  # the model is built on the meta device: no weights (pythia-12b's shape: 0.7 GB)
    params:
        spec=model_params,
    script:
        "../workflow/scripts/units.py"


rule extract:
    input:
        pool="results/sentences/pool.parquet",
        folds=expand("results/folds/fold{fold}.json", fold=FOLDS),
    output:
        scores=expand("results/ap/{{model}}/{{checkpoint}}/fold{fold}/shard{{shard}}.npz", fold=FOLDS),
    log:
        "logs/extract/{model}/{checkpoint}/shard{shard}.log",
    benchmark:
        "results/benchmarks/extract/{model}/{checkpoint}/shard{shard}.tsv"
    conda:
        "../envs/model.yaml"
    threads: 2
    resources:
        gpu=gpus(),
        mem_mb=16000,
        runtime=240,
    params:
        **EXTRACTION_PARAMS,
        spec=model_params,
        concepts=shard_concepts_param,
    script:
        "../workflow/scripts/extract.py"


rule merge_shards:
    input:
        shards=expand("results/ap/{{model}}/{{checkpoint}}/fold{{fold}}/shard{shard}.npz", shard=SHARDS),
    output:
        scores="results/ap/{model}/{checkpoint}/fold{fold}.npz",
    log:
        "logs/merge_shards/{model}/{checkpoint}/fold{fold}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/merge_shards.py"


rule extract_pilot:
    input:
        pool=pilot_pool,
        folds=[f"results/pilot/folds/{{source}}/P{p}_N{n}/fold{k}.json" for p, n, k in PILOT_RUNS],
        concepts="results/pilot/concepts.txt",
    output:
        scores=[f"results/pilot/ap/{{source}}/{{model}}/{{checkpoint}}/P{p}_N{n}/fold{k}.npz" for p, n, k in PILOT_RUNS],
    log:
        "logs/extract_pilot/{source}/{model}/{checkpoint}.log",
    benchmark:
        "results/benchmarks/extract_pilot/{source}/{model}/{checkpoint}.tsv"
    conda:
        "../envs/model.yaml"
    threads: 2
    resources:
        gpu=gpus(),
        mem_mb=16000,
        runtime=480,
    params:
        **EXTRACTION_PARAMS,
        spec=model_params,
    script:
        "../workflow/scripts/extract.py"
