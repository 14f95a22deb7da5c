"""Concatenate the per-job parts of one result table."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.workflow import read_tables, write_csv  # noqa: E402

write_csv(read_tables(list(snakemake.input.parts)), snakemake.output.csv)
