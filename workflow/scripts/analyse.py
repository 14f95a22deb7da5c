"""Every per-fold analysis of one score file: expert similarity matrices, hierarchy, counts, layers."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from expertalign import tables  # noqa: E402
from expertalign.measures import expert_similarities, save_similarities  # noqa: E402
from expertalign.scores import load_scores  # noqa: E402
from expertalign.workflow import read_parquet, write_csv  # noqa: E402

params, wc, out = snakemake.params, snakemake.wildcards, snakemake.output
stats = params.stats
run = dict(model=wc.model, checkpoint=wc.checkpoint, fold=int(wc.fold), score=params.score)
concepts, scores = load_scores(snakemake.input.scores, params.score)
units = read_parquet(snakemake.input.units)

save_similarities(out.similarity, concepts, expert_similarities(scores, tables.chance_center(params.score), params.taus))
hierarchy = tables.hierarchy_rows(
    scores, concepts, params.hierarchy, [params.hierarchy_tau], **run,
    iterations=stats["baseline_iterations"], seed=stats["seed"],
)
write_csv(hierarchy, out.hierarchy)
write_csv(tables.hierarchy_test_rows(hierarchy, n_resamples=stats["permutations"], seed=stats["seed"]), out.hierarchy_tests)
write_csv(tables.hierarchy_pair_rows(scores, concepts, params.hierarchy, [params.hierarchy_tau], **run), out.hierarchy_pairs)
write_csv(tables.expert_count_rows(scores, concepts, params.taus, **run), out.expert_counts)
write_csv(tables.layer_rows(scores, units, params.taus, **run), out.layer_distribution)
