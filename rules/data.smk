# Concepts and MEN pairs: the inputs every later stage reads.


rule concept_table:
    output:
        csv="results/concepts/concepts.csv",
    params:
        concepts=CONCEPTS,
        hierarchy=repo_path(config["concepts"]["hierarchy"]),
        sense_overrides=(
            repo_path(config["concepts"]["sense_overrides"]) if config["concepts"]["sense_overrides"] else None
        ),
    log:
        "logs/concept_table.log",
    benchmark:
        "results/benchmarks/concept_table.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/concept_table.py"


rule men_pairs:
    output:
        csv="results/men/pairs_{split}.csv",
    params:
        men_dir=str(MEN_DIR),
    wildcard_constraints:
        split="test|dev|full",
    log:
        "logs/men_pairs/{split}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/men_pairs.py"
