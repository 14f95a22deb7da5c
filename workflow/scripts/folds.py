"""Draw the folds of one sentence pool: per fold, P positives per concept, the fold's negative pool of M
sentences and each concept's N negatives; params.runs gives (P, N, fold) of each output, in order."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

from expertalign.folds import draw_fold, save_fold  # noqa: E402
from expertalign.workflow import read_parquet  # noqa: E402

params = snakemake.params
concepts = Path(snakemake.input.concepts).read_text().split() if "concepts" in snakemake.input.keys() else params.concepts
owners = read_parquet(snakemake.input.pool)["concept"]
for (positive_size, negative_size, fold), path in zip(params.runs, snakemake.output.folds, strict=True):
    drawn = draw_fold(
        owners,
        concepts,
        positive_size,
        negative_size,
        fold,
        params.seed,
        allow_small_pool=params.allow_small_pool,
        negative_pool_size=params.negative_pool_size,
    )
    save_fold(path, drawn)
