"""Causal check of one model checkpoint (rule intervention) or its figure (rule fig9_intervention)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign import intervention, plots  # noqa: E402
from expertalign.scores import load_scores  # noqa: E402
from expertalign.folds import load_fold  # noqa: E402
from expertalign.models import NotACausalLM, load_causal_lm, select_modules  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

params, wc = snakemake.params, snakemake.wildcards
if snakemake.rule == "fig9_intervention":
    plots.plot_intervention(
        pd.read_csv(snakemake.input.table), wc.model, wc.checkpoint, [snakemake.output.pdf, snakemake.output.png],
        n_resamples=params.stats["bootstrap_resamples"], seed=params.stats["seed"],
    )
else:
    spec = params.spec
    try:
        lm, tokenizer = load_causal_lm(spec["source"], wc.checkpoint, spec["dtype"], params.device, spec["init_seed"])
    except NotACausalLM as err:
        logging.warning("intervention skipped, empty table written: %s", err)
        write_csv(intervention.empty_table(), snakemake.output.table)
    else:
        scored, scores = load_scores(snakemake.input.scores, params.score)
        table = intervention.intervention_table(
            lm, tokenizer, select_modules(lm.base_model, spec["family"], spec["layers"]), params.concepts,
            intervention.concept_scores(scored, scores, params.concepts),
            intervention.positive_sentences(pd.read_parquet(snakemake.input.pool), load_fold(snakemake.input.fold),
                                            params.concepts),
            params.groups, model=wc.model, checkpoint=wc.checkpoint, pooling=params.pooling,
            batch_size=spec["batch_size"], max_length=spec["max_length"], **params.settings,
        )
        write_csv(table, snakemake.output.table)
