"""Summarise one gathered per-fold table over folds: mean, sd, min-max and n_folds per condition."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.tables import summarise_folds  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

stats = snakemake.params.stats
table = summarise_folds(
    snakemake.wildcards.table,
    pd.read_csv(snakemake.input.table),
    n_resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    confidence_level=stats["confidence_level"],
)
write_csv(table, snakemake.output.csv)
