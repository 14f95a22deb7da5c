"""Write one human similarity dataset's concept pairs (word1, word2, score, pos_source) as a CSV."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.datasets import load_source  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

write_csv(load_source({**snakemake.params.source, "file": str(snakemake.params.file)}), snakemake.output.csv)
