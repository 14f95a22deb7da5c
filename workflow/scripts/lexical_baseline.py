"""The lexical baseline's similarity matrix: bag-of-words similarity of two concepts' sentence pools
(own words removed), saved as measure "lexical" (expertalign.measures)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import numpy as np  # noqa: E402

from expertalign.lexical import lexical_similarity  # noqa: E402
from expertalign.measures import save_similarities, zero_norm_pairs  # noqa: E402
from expertalign.workflow import read_parquet  # noqa: E402

pool = read_parquet(snakemake.input.pool)
sentences = pool.groupby("concept", sort=True)["sentence"].apply(list).to_dict()
concepts, matrix = lexical_similarity(sentences, snakemake.params.weighting)
save_similarities(snakemake.output.similarity, concepts, {"lexical": (matrix, zero_norm_pairs(np.diag(matrix)))})
