"""Write the concept table: id, word, POS, hierarchy domain and the WordNet definition used in prompts
(the hierarchy and the sense overrides arrive as content, loaded at parse time)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.wordnet import concept_table  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

table = concept_table(snakemake.params.concepts, snakemake.params.hierarchy, snakemake.params.sense_overrides)
write_csv(table, snakemake.output.csv)
