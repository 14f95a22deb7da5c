# Sentence pools: generated per concept by an LLM, or read from a built-in or user file.
SENTENCES = config["sentences"]
GENERATED = SENTENCES["backend"] in ("openai", "hf")


def sentence_backend_settings():
    """The settings block of the configured sentence backend (no secrets: keys stay in the env)."""
    return SENTENCES.get(SENTENCES["backend"], {})


if GENERATED:

    rule generate_sentences:
        input:
            concepts="results/concepts/concepts.csv",
        output:
            jsonl="results/sentences/concepts/{concept}.jsonl",
        params:
            backend=SENTENCES["backend"],
            settings=sentence_backend_settings(),
            pool_size=SENTENCES["pool_size"],
            per_call=SENTENCES["sentences_per_call"],
            cache="results/sentences/cache/{concept}.jsonl",
        resources:
            gpu=1 if SENTENCES["backend"] == "hf" and config["device"] != "cpu" else 0,
            runtime=120,
        log:
            "logs/generate_sentences/{concept}.log",
        benchmark:
            "results/benchmarks/generate_sentences/{concept}.tsv"
        script:
            "../workflow/scripts/generate_sentences.py"


rule sentence_pool:
    input:
        concepts="results/concepts/concepts.csv",
        generated=expand("results/sentences/concepts/{concept}.jsonl", concept=CONCEPTS) if GENERATED else [],
    output:
        pool="results/sentences/pool.parquet",
        diversity="results/tables/sentence_diversity.csv",
    params:
        backend=SENTENCES["backend"],
        path=repo_path(SENTENCES[SENTENCES["backend"]]["path"]) if not GENERATED else None,
        pool_size=SENTENCES["pool_size"],
    log:
        "logs/sentence_pool.log",
    script:
        "../workflow/scripts/sentence_pool.py"


rule folds:
    input:
        pool="results/sentences/pool.parquet",
    output:
        fold="results/folds/fold{fold}.json",
    params:
        concepts=CONCEPTS,
        positive_size=config["folds"]["positive_size"],
        negative_size=config["folds"]["negative_size"],
        seed=config["folds"]["seed"],
        allow_small_pool=config["folds"]["allow_small_pool"],
        negative_pool_size=config["folds"]["negative_pool_size"],
    log:
        "logs/folds/fold{fold}.log",
    script:
        "../workflow/scripts/folds.py"


rule pilot_concepts:
    input:
        pairs="results/men/pairs_dev.csv",
        full="results/men/pairs_full.csv",
    output:
        txt="results/pilot/concepts.txt",
    params:
        concepts=CONCEPTS,
        n_pairs=PILOT["n_pairs"],
        seed=config["folds"]["seed"],
    log:
        "logs/pilot_concepts.log",
    script:
        "../workflow/scripts/pilot_concepts.py"


rule pilot_folds:
    input:
        pool="results/sentences/pool.parquet",
        concepts="results/pilot/concepts.txt",
    output:
        fold="results/pilot/folds/P{P}_N{N}/fold{fold}.json",
    params:
        positive_size=pilot_positive_size,
        negative_size=pilot_negative_size,
        seed=config["folds"]["seed"],
        allow_small_pool=config["folds"]["allow_small_pool"],
        negative_pool_size=config["folds"]["negative_pool_size"],
    log:
        "logs/pilot_folds/P{P}_N{N}/fold{fold}.log",
    script:
        "../workflow/scripts/folds.py"
