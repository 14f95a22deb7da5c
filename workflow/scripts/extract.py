"""Score every unit of one model checkpoint as an expert of each concept (AP and AUROC): the concepts
of one shard in every fold (rule extract), or the pilot's concepts in every (P, N, fold) of the sweep
(rule extract_pilot); a sentence several folds use runs through the model once."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

from expertalign.extraction import extract_fold_series  # noqa: E402
from expertalign.folds import load_fold  # noqa: E402
from expertalign.models import load_model, select_modules  # noqa: E402
from expertalign.scores import save_scores  # noqa: E402
from expertalign.workflow import read_parquet  # noqa: E402

spec = snakemake.params.spec
model, tokenizer = load_model(
    spec["source"], snakemake.wildcards.checkpoint, spec["dtype"], snakemake.params.device, spec["init_seed"]
)
inputs = (model, tokenizer, select_modules(model, spec["family"], spec["layers"]), read_parquet(snakemake.input.pool))
options = dict(batch_size=spec["batch_size"], pooling=snakemake.params.pooling, max_length=spec["max_length"],
               device=model.device)
folds = [load_fold(path) for path in snakemake.input.folds]
if snakemake.rule == "extract_pilot":
    concepts = Path(snakemake.input.concepts).read_text().split()
else:
    concepts = snakemake.params.concepts
results = extract_fold_series(*inputs, folds, concepts, **options)
for path, result in zip(snakemake.output, results):
    save_scores(path, result, dtype=snakemake.params.score_dtype)
