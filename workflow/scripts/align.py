"""Correlate one file of concept similarity matrices with every human dataset (one output per dataset):
the alignment rows of the expert measures (rule align, with the partial correlation given lexical
similarity), of the embedding baselines (rule embedding_align) or of the lexical baseline (rule lexical_align)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign import tables  # noqa: E402
from expertalign.measures import load_similarities  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

rule, params, wc, out = snakemake.rule, snakemake.params, snakemake.wildcards, snakemake.output
concepts, similarities = load_similarities(snakemake.input.similarity)
resampling = dict(
    n_resamples=params.stats["bootstrap_resamples"],
    seed=params.stats["seed"],
    confidence_level=params.stats["confidence_level"],
)
if rule == "align":
    lexical_concepts, lexical = load_similarities(snakemake.input.lexical)
for index, (dataset, path) in enumerate(zip(params.datasets, snakemake.input.pairs)):
    pairs = pd.read_csv(path)
    if rule == "align":
        run = dict(dataset=dataset, model=wc.model, checkpoint=wc.checkpoint, fold=int(wc.fold), score=params.score)
        write_csv(tables.alignment_rows(similarities, concepts, pairs, **run, **resampling), out.alignment[index])
        write_csv(tables.partial_rows(similarities, concepts, pairs, lexical, lexical_concepts, **run),
                  out.partial_alignment[index])
    elif rule == "embedding_align":
        run = dict(dataset=dataset, model=wc.model, checkpoint=wc.checkpoint, pooling=params.pooling)
        write_csv(tables.embedding_rows(similarities, concepts, pairs, **run, **resampling), out.csv[index])
    elif rule == "lexical_align":
        write_csv(tables.lexical_rows(similarities, concepts, pairs, dataset=dataset, weighting=params.weighting,
                                      **resampling), out.csv[index])
    else:
        raise ValueError(f"align.py serves rules align, embedding_align and lexical_align, not {rule}")
