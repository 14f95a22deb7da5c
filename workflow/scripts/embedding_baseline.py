"""The embedding baselines of one model checkpoint: word (and word_space), contextual and sentence-pool
embeddings from the final hidden layer, compared by cosine; writes the concept-by-concept similarities."""
from expertalign.workflow import log_to_file

log_to_file(snakemake.log[0])

import logging  # noqa: E402

from expertalign.concepts import parse_concept  # noqa: E402
from expertalign.embeddings import baseline_embeddings, concept_sentences  # noqa: E402
from expertalign.measures import cosine_similarities, save_similarities  # noqa: E402
from expertalign.models import load_model  # noqa: E402
from expertalign.workflow import read_parquet  # noqa: E402

log = logging.getLogger("embedding_baseline")
params, wc = snakemake.params, snakemake.wildcards
spec, concepts = params.spec, list(params.concepts)
sentences = concept_sentences(read_parquet(snakemake.input.pool), concepts, params.max_sentences)  # None: all
model, tokenizer = load_model(spec["source"], wc.checkpoint, spec["dtype"], params.device, spec["init_seed"])
words, pos = zip(*(parse_concept(c) for c in concepts))
embeddings = baseline_embeddings(model, tokenizer, words, sentences, params.pooling, spec["batch_size"], pos=pos)
missing = [c for c, row in zip(concepts, embeddings["contextual"]) if row[0] != row[0]]  # NaN rows
log.info("baselines computed: %s; %d of %d concepts lack an occurrence of their word (contextual undefined)%s",
         ", ".join(embeddings), len(missing), len(concepts), f": {', '.join(missing)}" if missing else "")
save_similarities(snakemake.output.similarity, concepts, cosine_similarities(embeddings))
