# Causal check (issue 18, Fig. 9): clamp each concept's top-k experts, or k random units, to their typical
# response and measure whether the model then says the concept word. One job per causal LM x checkpoint;
# encoder-only models (no LM head) are left out of the targets, and their job writes an empty table.
import sys

from expertalign.config import ConfigError

if INTERVENTION["enabled"]:
    if INTERVENTION["fold"] >= len(FOLDS):
        raise ConfigError("intervention.fold", f"{INTERVENTION['fold']} is not below folds.n_folds={len(FOLDS)}")
    if not intervention_concepts():
        raise ConfigError("intervention.concepts", "no analysed concept is selected")
    for _model in sorted(set(MODELS) - set(INTERVENTION_MODELS)):
        print(f"intervention: skipping {_model}, an encoder-only model (no causal LM head)", file=sys.stderr)


rule intervention:
    input:
        scores=f"results/ap/{{model}}/{{checkpoint}}/fold{INTERVENTION['fold']}.npz",
        pool="results/sentences/pool.parquet",
        fold=f"results/folds/fold{INTERVENTION['fold']}.json",
    output:
        table="results/intervention/{model}/{checkpoint}.csv",
    log:
        "logs/intervention/{model}/{checkpoint}.log",
    benchmark:
        "results/benchmarks/intervention/{model}/{checkpoint}.tsv"
    conda:
        "../envs/model.yaml"
    threads: 2
    resources:
        gpu=gpus(),
        mem_mb=16000,
        runtime=240,
    params:
        spec=model_params,
        concepts=intervention_concepts(),
        groups=dict(zip(HIERARCHY["concept"], HIERARCHY["domain"])),
        settings={k: v for k, v in INTERVENTION.items() if k not in ("enabled", "concepts", "fold")},
        score=SCORE,
        pooling=config["pooling"],
        device=config["device"],
    script:
        "../workflow/scripts/intervention.py"


rule intervention_table:
    input:
        parts=[f"results/intervention/{m}/{c}.csv" for m, c in model_checkpoints() if m in INTERVENTION_MODELS],
    output:
        csv=report(
            "results/tables/intervention.csv",
            caption="../workflow/report/intervention_table.rst",
            category="Tables",
            labels={"table": "intervention"},
        ),
    log:
        "logs/gather_table/intervention.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/gather_table.py"


rule fig9_intervention:
    input:
        table="results/intervention/{model}/{checkpoint}.csv",
    output:
        pdf=f"{FIG}/intervention/fig9_intervention_{{model}}_{{checkpoint}}.pdf",
        png=report(
            f"{FIG}/intervention/fig9_intervention_{{model}}_{{checkpoint}}.png",
            caption="../workflow/report/fig9_intervention.rst",
            category="5 Causal check",
            labels={"model": "{model}", "checkpoint": "{checkpoint}", "figure": "Fig. 9"},
        ),
    log:
        "logs/figures/fig9_intervention_{model}_{checkpoint}.log",
    conda:
        "../envs/model.yaml"
    params:
        stats=STATS,
    script:
        "../workflow/scripts/intervention.py"
