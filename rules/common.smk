# Config validation, the concept list and the named helpers every rule file uses.
import itertools
import re
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from expertalign import __version__ as EXPERTALIGN_VERSION
from expertalign.config import check_config, check_hierarchy_concepts, resolve_path, schema_error, sorted_keys
from expertalign.datasets import check_configured
from expertalign.concepts import (
    concept_list,
    load_hierarchy,
    load_men,
    load_sense_overrides,
    pilot_concepts,
    resolve_men,
)
from expertalign.workflow import file_sha256

try:
    validate(config, schema="../workflow/schemas/config.schema.yaml", set_default=True)
except WorkflowError as error:
    raise schema_error(error) from None  # the key first, on one line, not the whole config
check_config(config, base=workflow.basedir)
# Params are compared by their text: a fixed key order keeps a reordered config from rerunning jobs.
# Only the order of `models` means something (it is the figures' order), so it is kept.
_canonical = sorted_keys(config)
_canonical["models"] = {name: _canonical["models"][name] for name in config["models"]}
config.clear()
config.update(_canonical)

BASE = Path(workflow.basedir)
MODELS = config["models"]
SCORE = config["score"]
TAUS = config["taus"]
FOLDS = list(range(config["folds"]["n_folds"]))


def repo_path(path):
    """A config path resolved against the workflow folder (absolute paths stay as they are)."""
    return str(resolve_path(path, BASE))


def located(path):
    """A file or folder handed to a script by location only, never compared: Snakemake compares
    params by their text but skips values it cannot represent, such as a Path. So moving an input
    (or the checkout) reruns nothing; the rule passes the content, or its digest, as another param."""
    return Path(path)


MEN = config["concepts"]["men"]
MEN_DIR = resolve_men(
    MEN["dir"] and repo_path(MEN["dir"]),
    MEN["urls"],
    repo_path(MEN["cache_dir"]),
    [repo_path(d) for d in MEN["search_dirs"]],
)
CONCEPTS = concept_list(
    (
        config["concepts"]["list"]
        if config["concepts"]["list"] == "men+hierarchy"
        else repo_path(config["concepts"]["list"])
    ),
    MEN_DIR,
    repo_path(config["concepts"]["hierarchy"]),
    [repo_path(p) for p in config["concepts"]["extra"]],
)
SHARD_SIZE = config["extraction"]["shard_size"]
SHARDS = list(range((len(CONCEPTS) + SHARD_SIZE - 1) // SHARD_SIZE))
HIERARCHY = load_hierarchy(repo_path(config["concepts"]["hierarchy"]))
check_hierarchy_concepts(HIERARCHY["concept"].tolist(), CONCEPTS, config["concepts"]["hierarchy"])
SENSE_OVERRIDES = (
    load_sense_overrides(repo_path(config["concepts"]["sense_overrides"]))
    if config["concepts"]["sense_overrides"]
    else {}
)
HAS_HIERARCHY = set(HIERARCHY["concept"]).issubset(CONCEPTS)
# Human similarity datasets, checked here (header, columns, scores, checksums, pairs among the
# concepts) so that bad data stops the run before any model job.
DATASET_SOURCES = check_configured(config, CONCEPTS, BASE, men_dir=MEN_DIR)
DATASETS = list(DATASET_SOURCES)
DATASET_CEILINGS = {name: source["ceiling"] for name, source in DATASET_SOURCES.items()}


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    checkpoint=r"[A-Za-z0-9_.-]+",
    fold=r"\d+",
    shard=r"\d+",
    P=r"\d+",
    N=r"\d+",
    dataset="|".join(map(re.escape, DATASETS)),


def dataset_source(wildcards):
    """How the job reads its dataset, by content (the file's sha1), not location."""
    return {key: value for key, value in DATASET_SOURCES[wildcards.dataset].items() if key != "file"}


def dataset_file(wildcards):
    """The dataset's file (or MEN folder), by location only (see located)."""
    return located(DATASET_SOURCES[wildcards.dataset]["file"])


def shard_concepts(shard):
    """Concept ids of extraction shard ``shard`` (consecutive slices of the sorted concept list)."""
    shard = int(shard)
    return CONCEPTS[shard * SHARD_SIZE : (shard + 1) * SHARD_SIZE]


def checkpoints(model):
    """Checkpoints of ``model`` in training order, as configured."""
    return MODELS[model]["checkpoints"]


def model_checkpoints():
    """Every (model, checkpoint) pair."""
    return [(m, c) for m in MODELS for c in checkpoints(m)]


def consecutive_checkpoints():
    """(model, checkpoint, next checkpoint) for every model with two or more checkpoints."""
    return [(m, a, b) for m in MODELS for a, b in zip(checkpoints(m), checkpoints(m)[1:])]


def gpus():
    """GPUs an extraction or embedding job asks for: none when the config pins the CPU."""
    return 0 if config["device"] == "cpu" else 1


def model_params(wildcards):
    """The model spec (source, dtype, batch size, ...) of the job's model, without its checkpoint
    list: adding a checkpoint must not rerun the others."""
    return {key: value for key, value in MODELS[wildcards.model].items() if key != "checkpoints"}


PILOT = config["pilot"]
PILOT_SIZES = list(itertools.product(PILOT["positive_sizes"], PILOT["negative_sizes"])) if PILOT["enabled"] else []
PILOT_RUNS = [(p, n, k) for p, n in PILOT_SIZES for k in range(PILOT["n_folds"])]  # (P, N, fold)
# Sentence sources the pilot compares (Fig. 1: a line each); "main" is the sentences block's own pool.
PILOT_SOURCES = list(PILOT["sources"]) or ["main"]
PILOT_POOL_SIZE = PILOT["pool_size"] or config["sentences"]["pool_size"]  # per concept, in each source's own pool


wildcard_constraints:
    source="|".join(map(re.escape, PILOT_SOURCES)),


def pilot_pool(wildcards):
    """The sentence pool of a pilot source: its own pool, or the main pool for source "main"."""
    if wildcards.source == "main":
        return "results/sentences/pool.parquet"
    return f"results/pilot/sentences/{wildcards.source}/pool.parquet"


GENERATING_BACKENDS = ("openai", "hf")
# A generated source is generated one job per pilot concept (a 7,000-sentence pool takes long), so the
# concepts are needed here: the same seeded draw as rule pilot_concepts, from the same MEN files.
PILOT_GENERATED = [name for name, s in PILOT["sources"].items() if s["backend"] in GENERATING_BACKENDS]
PILOT_CONCEPTS = (
    pilot_concepts(
        load_men(MEN_DIR, "dev"), load_men(MEN_DIR, "full"), CONCEPTS, PILOT["n_pairs"], config["folds"]["seed"]
    )
    if PILOT_SIZES and PILOT_GENERATED
    else []
)


def pilot_source_backend(wildcards):
    """A pilot source's backend name."""
    return PILOT["sources"][wildcards.source]["backend"]


def pilot_source_settings(wildcards):
    """A pilot source's backend settings without its file path, which is an input (no secrets: keys
    stay in the env)."""
    source = PILOT["sources"][wildcards.source]
    return {key: value for key, value in source.get(source["backend"], {}).items() if key != "path"}


def pilot_generated(wildcards):
    """The per-concept sentence files of a generated pilot source; none for a reading source."""
    if wildcards.source not in PILOT_GENERATED:
        return []
    return [f"results/pilot/sentences/{wildcards.source}/concepts/{c}.jsonl" for c in PILOT_CONCEPTS]


def pilot_source_file(wildcards):
    """The sentence file a reading pilot source (builtin, file) reads; none for a generator."""
    source = PILOT["sources"][wildcards.source]
    path = source.get(source["backend"], {}).get("path")
    return repo_path(path) if path else []


def pilot_source_gpus(wildcards):
    """GPUs a pilot source's pool job asks for: one for a local HF generator off the CPU."""
    return int(PILOT["sources"][wildcards.source]["backend"] == "hf" and config["device"] != "cpu")


def pilot_positive_size(wildcards):
    """P of a pilot job, from its wildcards."""
    return int(wildcards.P)


def pilot_negative_size(wildcards):
    """N of a pilot job, from its wildcards."""
    return int(wildcards.N)


def shard_concepts_param(wildcards):
    """Concept ids of the job's extraction shard."""
    return shard_concepts(wildcards.shard)
