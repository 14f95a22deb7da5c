"""Assemble every concept's sentences into the pool table, and report each pool's diversity."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.generation import BuiltinBackend, FileBackend, generate_pool  # noqa: E402
from expertalign.generation import pool_table  # noqa: E402
from expertalign.workflow import read_jsonl, write_csv, write_parquet  # noqa: E402

params = snakemake.params
concepts = pd.read_csv(snakemake.input.concepts, keep_default_na=False)
if snakemake.input.generated:
    pools = {c: read_jsonl(path) for c, path in zip(concepts["concept"], snakemake.input.generated)}
else:
    backend = BuiltinBackend(params.path) if params.backend == "builtin" else FileBackend(params.path)
    pools = {
        row.concept: generate_pool(backend, row.concept, row.definition or None, params.pool_size)
        for row in concepts.itertuples()
    }
pool, diversity = pool_table(pools, params.backend)
write_parquet(pool, snakemake.output.pool)
diversity.insert(0, "source", "main")  # the pilot's own sources are named in pilot.sources
write_csv(diversity, snakemake.output.diversity)
