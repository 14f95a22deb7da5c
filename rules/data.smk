# Concepts and MEN pairs: the inputs every later stage reads.


rule concept_table:
    output:
        csv="results/concepts/concepts.csv",
    params:
        concepts=CONCEPTS,
        hierarchy=HIERARCHY,  # content, not location: moving the file reruns nothing
        sense_overrides=SENSE_OVERRIDES,
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
        men_dir=located(MEN_DIR),  # MEN's content is fixed: load_men checks every file's sha1
    wildcard_constraints:
        split="test|dev|full",
    log:
        "logs/men_pairs/{split}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/men_pairs.py"
