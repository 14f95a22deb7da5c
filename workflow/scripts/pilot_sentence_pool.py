"""Build one pilot sentence source's pool for the pilot concepts, and report its diversity."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.generation import generate_pool, make_backend  # noqa: E402
from expertalign.workflow import pool_table, write_csv, write_parquet  # noqa: E402

params, source = snakemake.params, snakemake.wildcards.source
definitions = pd.read_csv(snakemake.input.concepts, keep_default_na=False).set_index("concept")["definition"]
reads_file = params.source["backend"] in ("builtin", "file")  # its file is an input; a generator has none
settings = {**params.source["settings"], **({"path": snakemake.input.sentences} if reads_file else {})}
backend = make_backend(params.source["backend"], settings)
pools = {
    concept: generate_pool(
        backend, concept, definitions[concept] or None, params.pool_size, params.per_call,
        Path(params.cache) / f"{concept}.jsonl",
    )
    for concept in Path(snakemake.input.pilot).read_text().split()
}
pool, diversity = pool_table(pools, params.source["backend"])
diversity.insert(0, "source", source)
write_parquet(pool, snakemake.output.pool)
write_csv(diversity, snakemake.output.diversity)
