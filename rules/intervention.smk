# Causal check (issue 18, Fig. 9): clamp each concept's top-k experts, or k random units, to their typical
# response and measure whether the model then says the concept word. One job per causal LM x checkpoint;
# encoder-only models (no LM head) are left out of the targets, and their job writes an empty table.
import sys

from expertalign.config import ConfigError
from expertalign.models import is_causal_lm

INTERVENTION = config["intervention"]
INTERVENTION_MODELS = [m for m, spec in MODELS.items() if is_causal_lm(spec["source"], spec["family"])]


def intervention_concepts():
    """Concepts of the causal check: every analysed concept, the hierarchy's, or the configured list."""
    chosen = INTERVENTION["concepts"]
    if chosen == "all":
        return CONCEPTS
    if chosen == "hierarchy":
        return [c for c in CONCEPTS if c in set(HIERARCHY["concept"])]
    unknown = [c for c in chosen if c not in CONCEPTS]
    if unknown:
        raise ConfigError("intervention.concepts", f"{unknown[:5]} are not among the analysed concepts")
    return list(chosen)


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
    params:
        spec=model_params,
        concepts=intervention_concepts(),
        groups=dict(zip(HIERARCHY["concept"], HIERARCHY["domain"])),
        settings={k: v for k, v in INTERVENTION.items() if k not in ("enabled", "concepts", "fold")},
        score=SCORE,
        pooling=config["pooling"],
        device=config["device"],
    threads: 2
    resources:
        gpu=gpus(),
        mem_mb=16000,
        runtime=240,
    log:
        "logs/intervention/{model}/{checkpoint}.log",
    benchmark:
        "results/benchmarks/intervention/{model}/{checkpoint}.tsv"
    script:
        "../workflow/scripts/intervention.py"


rule intervention_table:
    input:
        parts=[f"results/intervention/{m}/{c}.csv" for m, c in model_checkpoints() if m in INTERVENTION_MODELS],
    output:
        csv=report("results/tables/intervention.csv", caption="../workflow/report/intervention_table.rst", category="Tables",
                   labels={"table": "intervention"}),
    log:
        "logs/gather_table/intervention.log",
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
    params:
        stats=STATS,
    log:
        "logs/figures/fig9_intervention_{model}_{checkpoint}.log",
    script:
        "../workflow/scripts/intervention.py"


def intervention_targets():
    """The causal check's table and figures when enabled: causal LMs only."""
    if not INTERVENTION["enabled"]:
        return []
    figures = [f"{FIG}/intervention/fig9_intervention_{m}_{c}.pdf" for m, c in model_checkpoints() if m in INTERVENTION_MODELS]
    return ["results/tables/intervention.csv", *figures] if figures else []
