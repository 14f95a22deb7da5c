"""The cross-dataset table: every measure's alignment per dataset, model and checkpoint, with the ceiling."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.tables import cross_dataset_rows  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

inputs, params = snakemake.input, snakemake.params
table = cross_dataset_rows(
    pd.read_csv(inputs.alignment),
    pd.read_csv(inputs.embedding),
    pd.read_csv(inputs.lexical),
    tau=params.tau,
    ceilings=params.ceilings,
)
write_csv(table, snakemake.output.csv)
