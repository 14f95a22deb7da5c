# Sentence pools: generated per concept by an LLM, or read from a built-in or user file.
if GENERATED:

    rule generate_sentences:
        input:
            concepts="results/concepts/concepts.csv",
        output:
            jsonl="results/sentences/concepts/{concept}.jsonl",
        log:
            "logs/generate_sentences/{concept}.log",
        benchmark:
            "results/benchmarks/generate_sentences/{concept}.tsv"
        conda:
            "../envs/model.yaml"
        resources:
            gpu=1 if SENTENCES["backend"] == "hf" and config["device"] != "cpu" else 0,
            runtime=120,
        params:
            backend=SENTENCES["backend"],
            settings=sentence_backend_settings(),
            pool_size=SENTENCES["pool_size"],
            per_call=SENTENCES["sentences_per_call"],
            cache="results/sentences/cache/{concept}.jsonl",
        script:
            "../workflow/scripts/generate_sentences.py"


rule sentence_pool:
    input:
        concepts="results/concepts/concepts.csv",
        generated=expand("results/sentences/concepts/{concept}.jsonl", concept=CONCEPTS) if GENERATED else [],
    output:
        pool="results/sentences/pool.parquet",
        diversity="results/sentences/diversity.csv",
    log:
        "logs/sentence_pool.log",
    conda:
        "../envs/analysis.yaml"
    params:
        backend=SENTENCES["backend"],
        path=located(repo_path(SENTENCES[SENTENCES["backend"]]["path"])) if not GENERATED else None,
        sha256=file_sha256(repo_path(SENTENCES[SENTENCES["backend"]]["path"])) if not GENERATED else None,
        pool_size=SENTENCES["pool_size"],
    script:
        "../workflow/scripts/sentence_pool.py"


rule folds:
    input:
        pool="results/sentences/pool.parquet",
    output:
        folds=expand("results/folds/fold{fold}.json", fold=FOLDS),
    log:
        "logs/folds.log",
    conda:
        "../envs/analysis.yaml"
    params:
        concepts=CONCEPTS,
        runs=[(config["folds"]["positive_size"], config["folds"]["negative_size"], k) for k in FOLDS],
        seed=config["folds"]["seed"],
        allow_small_pool=config["folds"]["allow_small_pool"],
        negative_pool_size=config["folds"]["negative_pool_size"],
    script:
        "../workflow/scripts/folds.py"


rule pilot_concepts:
    input:
        pairs="results/men/pairs_dev.csv",
        full="results/men/pairs_full.csv",
    output:
        txt="results/pilot/concepts.txt",
    log:
        "logs/pilot_concepts.log",
    conda:
        "../envs/analysis.yaml"
    params:
        concepts=CONCEPTS,
        n_pairs=PILOT["n_pairs"],
        seed=config["folds"]["seed"],
    script:
        "../workflow/scripts/pilot_concepts.py"


rule pilot_generate_sentences:
    input:
        concepts="results/concepts/concepts.csv",
    output:
        jsonl="results/pilot/sentences/{source}/concepts/{concept}.jsonl",
    log:
        "logs/pilot_generate_sentences/{source}/{concept}.log",
    benchmark:
        "results/benchmarks/pilot_generate_sentences/{source}/{concept}.tsv"
    conda:
        "../envs/model.yaml"
    resources:
        gpu=pilot_source_gpus,
        runtime=480,
    params:
        backend=pilot_source_backend,
        settings=pilot_source_settings,
        pool_size=PILOT_POOL_SIZE,
        per_call=SENTENCES["sentences_per_call"],
        cache="results/pilot/sentences/{source}/cache/{concept}.jsonl",
    script:
        "../workflow/scripts/generate_sentences.py"


rule pilot_sentence_pool:
    input:
        concepts="results/concepts/concepts.csv",
        pilot="results/pilot/concepts.txt",
        sentences=pilot_source_file,
        generated=pilot_generated,
    output:
        pool="results/pilot/sentences/{source}/pool.parquet",
        diversity="results/pilot/sentences/{source}/diversity.csv",
    log:
        "logs/pilot_sentence_pool/{source}.log",
    benchmark:
        "results/benchmarks/pilot_sentence_pool/{source}.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        backend=pilot_source_backend,
        settings=pilot_source_settings,
        pool_size=PILOT_POOL_SIZE,
    script:
        "../workflow/scripts/pilot_sentence_pool.py"


rule pilot_folds:
    input:
        pool=pilot_pool,
        concepts="results/pilot/concepts.txt",
    output:
        folds=[f"results/pilot/folds/{{source}}/P{p}_N{n}/fold{k}.json" for p, n, k in PILOT_RUNS],
    log:
        "logs/pilot_folds/{source}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        runs=PILOT_RUNS,  # (P, N, fold) of each output, in order
        seed=config["folds"]["seed"],
        allow_small_pool=config["folds"]["allow_small_pool"],
        negative_pool_size=config["folds"]["negative_pool_size"],
    script:
        "../workflow/scripts/folds.py"
