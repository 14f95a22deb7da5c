"""Generate one concept's positive sentence pool with an LLM (cached per call batch, resumable)."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import pandas as pd  # noqa: E402

from expertalign.generation import HFBackend, OpenAIBackend, generate_pool  # noqa: E402
from expertalign.workflow import write_jsonl  # noqa: E402

params = snakemake.params
concept = snakemake.wildcards.concept
concepts = pd.read_csv(snakemake.input.concepts, keep_default_na=False).set_index("concept")
backend = OpenAIBackend(**params.settings) if params.backend == "openai" else HFBackend(**params.settings)
records = generate_pool(
    backend, concept, concepts.at[concept, "definition"] or None, params.pool_size, params.per_call, params.cache
)
write_jsonl(records, snakemake.output.jsonl)
