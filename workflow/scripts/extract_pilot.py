"""Score every unit as an expert of each pilot concept in every pilot fold (one model load, each
sentence run once when the responses fit the memory budget)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.extraction import extract_fold_series, save_scores  # noqa: E402
from expertalign.folds import load_fold  # noqa: E402
from expertalign.models import load_model, select_modules  # noqa: E402

spec = snakemake.params.spec
model, tokenizer = load_model(
    spec["source"], snakemake.wildcards.checkpoint, spec["dtype"], snakemake.params.device, spec["init_seed"]
)
results = extract_fold_series(
    model,
    tokenizer,
    select_modules(model, spec["family"], spec["layers"]),
    pd.read_parquet(snakemake.input.pool),
    [load_fold(path) for path in snakemake.input.folds],
    Path(snakemake.input.concepts).read_text().split(),
    batch_size=spec["batch_size"],
    pooling=snakemake.params.pooling,
    max_length=spec["max_length"],
    device=model.device,
)
for path, result in zip(snakemake.output.scores, results):
    save_scores(path, result)
