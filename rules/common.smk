# Config validation, the concept list and the named helpers every rule file uses.
import itertools
import re
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from expertalign import __version__ as EXPERTALIGN_VERSION
from expertalign.config import check_config, check_hierarchy_concepts, resolve_path, schema_error, sorted_keys
from expertalign.concepts import concept_list, load_hierarchy, resolve_men
from expertalign.wordnet import load_sense_overrides
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
MEN_DIR = resolve_men(MEN["dir"] and repo_path(MEN["dir"]), MEN["urls"], repo_path(MEN["cache_dir"]))
CONCEPTS = concept_list(
    config["concepts"]["list"] if config["concepts"]["list"] == "men+hierarchy" else repo_path(config["concepts"]["list"]),
    MEN_DIR,
    repo_path(config["concepts"]["hierarchy"]),
    [repo_path(p) for p in config["concepts"]["extra"]],
)
SHARD_SIZE = config["extraction"]["shard_size"]
SHARDS = list(range((len(CONCEPTS) + SHARD_SIZE - 1) // SHARD_SIZE))
HIERARCHY = load_hierarchy(repo_path(config["concepts"]["hierarchy"]))
check_hierarchy_concepts(HIERARCHY["concept"].tolist(), CONCEPTS, config["concepts"]["hierarchy"])
SENSE_OVERRIDES = load_sense_overrides(repo_path(config["concepts"]["sense_overrides"])) if config["concepts"]["sense_overrides"] else {}
HAS_HIERARCHY = set(HIERARCHY["concept"]).issubset(CONCEPTS)


wildcard_constraints:
    model="|".join(map(re.escape, MODELS)),
    checkpoint=r"[A-Za-z0-9_.-]+",
    fold=r"\d+",
    shard=r"\d+",
    P=r"\d+",
    N=r"\d+",


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


def pilot_positive_size(wildcards):
    """P of a pilot job, from its wildcards."""
    return int(wildcards.P)


def pilot_negative_size(wildcards):
    """N of a pilot job, from its wildcards."""
    return int(wildcards.N)


def shard_concepts_param(wildcards):
    """Concept ids of the job's extraction shard."""
    return shard_concepts(wildcards.shard)
