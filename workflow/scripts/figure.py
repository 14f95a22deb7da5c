"""Draw one figure (PDF + PNG) from its result tables: the rule's name picks the drawing in
expertalign.plots.FIGURES, each named input is read as a CSV table."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign import plots  # noqa: E402

plots.draw_figure(
    snakemake.rule,
    {name: pd.read_csv(path) for name, path in snakemake.input.items()},
    dict(snakemake.params.items()),
    dict(snakemake.wildcards.items()),
    [snakemake.output.pdf, snakemake.output.png],
)
