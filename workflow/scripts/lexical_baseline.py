"""The lexical baseline: bag-of-words similarity of two concepts' sentence pools (own words removed)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from expertalign.lexical import lexical_similarity  # noqa: E402
from expertalign.tables import lexical_rows  # noqa: E402
from expertalign.workflow import read_parquet, save_npz, write_csv  # noqa: E402

params = snakemake.params
pool = read_parquet(snakemake.input.pool)
concepts, matrix = lexical_similarity(pool.groupby("concept", sort=True)["sentence"].apply(list).to_dict(), params.weighting)
stats = params.stats
table = lexical_rows(
    matrix,
    concepts,
    pd.read_csv(snakemake.input.pairs),
    weighting=params.weighting,
    n_resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    confidence_level=stats["confidence_level"],
)
write_csv(table, snakemake.output.table)
save_npz(snakemake.output.matrix, concepts=np.array(concepts), similarity=matrix.astype(np.float32))
