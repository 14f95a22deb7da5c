"""The word-embedding baseline: each concept word alone through the model, final hidden layer, cosine."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.concepts import parse_concept  # noqa: E402
from expertalign.embeddings import word_embeddings  # noqa: E402
from expertalign.models import load_model  # noqa: E402
from expertalign.tables import embedding_rows  # noqa: E402
from expertalign.workflow import write_csv  # noqa: E402

params, wc, stats = snakemake.params, snakemake.wildcards, snakemake.params.stats
spec = params.spec
model, tokenizer = load_model(spec["source"], wc.checkpoint, spec["dtype"], params.device, spec["init_seed"])
words = [parse_concept(c)[0] for c in params.concepts]
embeddings = word_embeddings(model, tokenizer, words, params.pooling, batch_size=spec["batch_size"])
table = embedding_rows(
    embeddings,
    params.concepts,
    pd.read_csv(snakemake.input.pairs),
    model=wc.model,
    checkpoint=wc.checkpoint,
    pooling=params.pooling,
    n_resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    confidence_level=stats["confidence_level"],
)
write_csv(table, snakemake.output.csv)
