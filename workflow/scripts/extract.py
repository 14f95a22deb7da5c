"""Score every unit of one model checkpoint as an expert of each concept of a shard (AP and AUROC)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.extraction import extract_scores, save_scores  # noqa: E402
from expertalign.folds import load_fold  # noqa: E402
from expertalign.models import load_model, select_modules  # noqa: E402

spec = snakemake.params.spec
model, tokenizer = load_model(
    spec["source"], snakemake.wildcards.checkpoint, spec["dtype"], snakemake.params.device, spec["init_seed"]
)
result = extract_scores(
    model,
    tokenizer,
    select_modules(model, spec["family"], spec["layers"]),
    pd.read_parquet(snakemake.input.pool),
    load_fold(snakemake.input.fold),
    snakemake.params.concepts,
    batch_size=spec["batch_size"],
    pooling=snakemake.params.pooling,
    max_length=spec["max_length"],
    device=model.device,
)
save_scores(snakemake.output.scores, result)
