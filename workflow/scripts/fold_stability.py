"""Jaccard of each concept's expert sets across every pair of folds (Fig. 1's stability)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.scores import load_scores  # noqa: E402
from expertalign.tables import fold_stability_rows  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

params, wc = snakemake.params, snakemake.wildcards
scored = {fold: load_scores(path, params.score) for fold, path in enumerate(snakemake.input.folds)}
table = fold_stability_rows(
    scored,
    params.taus,
    model=wc.model,
    checkpoint=wc.checkpoint,
    positive_size=params.positive_size,
    negative_size=params.negative_size,
    score=params.score,
)
table.insert(0, "source", wc.get("source", "main"))  # the sentence source: a pilot source, or the main pool
write_csv(table, snakemake.output.csv)
