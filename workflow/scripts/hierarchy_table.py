"""Table 2 / App. D for one model and checkpoint, as CSV and Markdown."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.plots import hierarchy_csv_table, hierarchy_markdown  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

wc = snakemake.wildcards
hierarchy = pd.read_csv(snakemake.input.table)
write_csv(hierarchy_csv_table(hierarchy, wc.model, wc.checkpoint, tau=min(hierarchy["tau"])), snakemake.output.csv)
Path(snakemake.output.md).write_text(
    hierarchy_markdown(hierarchy, wc.model, wc.checkpoint, tau=min(hierarchy["tau"]), tests=pd.read_csv(snakemake.input.tests))
)
