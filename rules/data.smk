# Concepts and human similarity pairs: the inputs every later stage reads.


rule concept_table:
    output:
        csv="results/concepts/concepts.csv",
    log:
        "logs/concept_table.log",
    benchmark:
        "results/benchmarks/concept_table.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        concepts=CONCEPTS,
        hierarchy=HIERARCHY,  # content, not location: moving the file reruns nothing
        sense_overrides=SENSE_OVERRIDES,
    script:
        "../workflow/scripts/concept_table.py"


rule men_pairs:
    output:
        csv="results/men/pairs_{split}.csv",
    log:
        "logs/men_pairs/{split}.log",
    wildcard_constraints:
        split="test|dev|full",
    conda:
        "../envs/analysis.yaml"
    params:
        men_dir=located(MEN_DIR),  # MEN's content is fixed: load_men checks every file's sha1
    script:
        "../workflow/scripts/men_pairs.py"


rule dataset_pairs:
    output:
        csv="results/datasets/{dataset}/pairs.csv",
    log:
        "logs/dataset_pairs/{dataset}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        source=dataset_source,
        file=dataset_file,
    script:
        "../workflow/scripts/dataset_pairs.py"
