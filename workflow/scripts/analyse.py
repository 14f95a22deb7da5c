"""Every per-checkpoint analysis of one score file: alignment, partial alignment, hierarchy, counts, layers."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign import tables  # noqa: E402
from expertalign.scores import load_scores  # noqa: E402
from expertalign.similarity import expert_jaccards  # noqa: E402
from expertalign.workflow import load_npz, read_parquet, write_csv  # noqa: E402

params, wc, out = snakemake.params, snakemake.wildcards, snakemake.output
stats = params.stats
run = dict(model=wc.model, checkpoint=wc.checkpoint, fold=int(wc.fold), score=params.score)
concepts, scores = load_scores(snakemake.input.scores, params.score)
pairs = pd.read_csv(snakemake.input.pairs)
lexical = load_npz(snakemake.input.lexical)
units = read_parquet(snakemake.input.units)
resampling = dict(n_resamples=stats["bootstrap_resamples"], seed=stats["seed"], confidence_level=stats["confidence_level"])

jaccards = expert_jaccards(scores, params.taus)  # one pass over the units, shared by both tables
write_csv(tables.alignment_rows(scores, concepts, pairs, params.taus, **run, **resampling, jaccards=jaccards),
          out.alignment)
write_csv(
    tables.partial_rows(scores, concepts, pairs, params.taus, lexical["similarity"], list(lexical["concepts"]), **run,
                        jaccards=jaccards),
    out.partial_alignment,
)
hierarchy = tables.hierarchy_rows(
    scores, concepts, params.hierarchy, [params.hierarchy_tau], **run,
    iterations=stats["baseline_iterations"], seed=stats["seed"],
)
write_csv(hierarchy, out.hierarchy)
write_csv(tables.hierarchy_test_rows(hierarchy, n_resamples=stats["permutations"], seed=stats["seed"]), out.hierarchy_tests)
write_csv(tables.hierarchy_pair_rows(scores, concepts, params.hierarchy, [params.hierarchy_tau], **run), out.hierarchy_pairs)
write_csv(tables.expert_count_rows(scores, concepts, params.taus, **run), out.expert_counts)
write_csv(tables.layer_rows(scores, units, params.taus, **run), out.layer_distribution)
