"""Choose the concepts of the stability sweep: those of n MEN pairs (dev split first)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import logging  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.concepts import pilot_concepts  # noqa: E402

chosen = pilot_concepts(
    pd.read_csv(snakemake.input.pairs),
    pd.read_csv(snakemake.input.full),
    snakemake.params.concepts,
    snakemake.params.n_pairs,
    snakemake.params.seed,
)
logging.getLogger("pilot").info("%d pilot concepts", len(chosen))
Path(snakemake.output.txt).write_text("\n".join(chosen) + "\n")
