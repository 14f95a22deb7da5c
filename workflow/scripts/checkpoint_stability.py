"""Jaccard of each concept's expert set between two consecutive checkpoints."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign.scores import load_scores  # noqa: E402
from expertalign.tables import checkpoint_stability_rows  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

params, wc = snakemake.params, snakemake.wildcards
scored = {
    wc.checkpoint: load_scores(snakemake.input.current, params.score),
    wc.next: load_scores(snakemake.input.following, params.score),
}
table = checkpoint_stability_rows(
    scored, [wc.checkpoint, wc.next], params.taus, model=wc.model, fold=int(wc.fold), score=params.score
)
write_csv(table, snakemake.output.csv)
