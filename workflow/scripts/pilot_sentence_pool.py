"""Assemble one pilot sentence source's pool for the pilot concepts (read from its file, or from
the per-concept generated files), and report its diversity."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from expertalign.generation import generate_pool, make_backend  # noqa: E402
from expertalign.generation import pool_table  # noqa: E402
from expertalign.workflow import read_jsonl, write_csv, write_parquet  # noqa: E402

params, source = snakemake.params, snakemake.wildcards.source
chosen = Path(snakemake.input.pilot).read_text().split()
if snakemake.input.generated:
    pools = {Path(path).stem: read_jsonl(path) for path in snakemake.input.generated}
    if sorted(pools) != sorted(chosen):
        raise ValueError(f"pilot source {source}: generated concepts {sorted(pools)} differ from "
                         f"{snakemake.input.pilot}: {chosen}; rerun rule pilot_concepts")
else:
    definitions = pd.read_csv(snakemake.input.concepts, keep_default_na=False).set_index("concept")["definition"]
    backend = make_backend(params.backend, {**params.settings, "path": snakemake.input.sentences})
    pools = {concept: generate_pool(backend, concept, definitions[concept] or None, params.pool_size)
             for concept in chosen}
pool, diversity = pool_table(pools, params.backend)
diversity.insert(0, "source", source)
write_parquet(pool, snakemake.output.pool)
write_csv(diversity, snakemake.output.diversity)
