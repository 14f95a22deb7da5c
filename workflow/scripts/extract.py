"""Score every unit of one model checkpoint as an expert of each concept (AP and AUROC): the concepts
of one shard in one fold (rule extract), or the pilot's concepts in every (P, N, fold) of the sweep,
each sentence run once (rule extract_pilot)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.extraction import extract_fold_series, extract_scores, save_scores  # noqa: E402
from expertalign.folds import load_fold  # noqa: E402
from expertalign.models import load_model, select_modules  # noqa: E402

spec = snakemake.params.spec
model, tokenizer = load_model(
    spec["source"], snakemake.wildcards.checkpoint, spec["dtype"], snakemake.params.device, spec["init_seed"]
)
inputs = (model, tokenizer, select_modules(model, spec["family"], spec["layers"]), pd.read_parquet(snakemake.input.pool))
options = dict(batch_size=spec["batch_size"], pooling=snakemake.params.pooling, max_length=spec["max_length"],
               device=model.device)
if snakemake.rule == "extract_pilot":
    folds = [load_fold(path) for path in snakemake.input.folds]
    results = extract_fold_series(*inputs, folds, Path(snakemake.input.concepts).read_text().split(), **options)
else:
    results = [extract_scores(*inputs, load_fold(snakemake.input.fold), snakemake.params.concepts, **options)]
for path, result in zip(snakemake.output, results):
    save_scores(path, result, dtype=snakemake.params.score_dtype)
