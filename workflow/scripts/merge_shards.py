"""Merge the concept shards of one model x checkpoint x fold into one score file."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.extraction import merge_scores, save_scores  # noqa: E402

save_scores(snakemake.output.scores, merge_scores(list(snakemake.input.shards)))
