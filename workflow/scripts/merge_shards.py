"""Merge the concept shards of one model x checkpoint x fold into one score file."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.scores import merge_scores, save_scores  # noqa: E402

merged = merge_scores(list(snakemake.input.shards))
save_scores(snakemake.output.scores, merged, dtype=merged["ap"].dtype.name)  # the shards' storage dtype
