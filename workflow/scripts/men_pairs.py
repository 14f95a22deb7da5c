"""Write one MEN split (sha1-checked) as a CSV of word1, word2, score."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.concepts import load_men  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

write_csv(load_men(snakemake.params.men_dir, snakemake.wildcards.split), snakemake.output.csv)
