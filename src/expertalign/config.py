"""Configuration checks beyond the JSON schema: cross-key rules and files that must exist.

The schema (workflow/schemas/config.schema.yaml) checks each key's type and range and fills in
defaults; :func:`check_config` then checks what a schema cannot express. Every error names the key.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import jsonschema
import yaml

from expertalign.concepts import MEN_DIR_ENV, MEN_FILES, men_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value that cannot work; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")
        self.key = key


_MAX_MESSAGE = 300  # characters of a schema message kept: a value's repr can be the whole config


def schema_error(error: BaseException) -> ConfigError:
    """A one-screen :class:`ConfigError` for a failed schema validation, key first.

    ``error`` is the jsonschema ValidationError, or the exception snakemake.utils.validate raised
    while handling one (its message holds the whole schema and config: hundreds of lines). A
    misspelt key is named with the closest known key.
    """
    cause = error
    while cause is not None and not isinstance(cause, jsonschema.ValidationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return ConfigError("<config>", str(error).splitlines()[0][:_MAX_MESSAGE])
    path = [str(part) for part in cause.absolute_path]
    if cause.validator == "additionalProperties" and isinstance(cause.instance, dict):
        known = sorted(cause.schema.get("properties", {}))
        unknown = sorted(set(cause.instance) - set(known))
        close = difflib.get_close_matches(unknown[0], known, n=1) if unknown else []
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return ConfigError(".".join(path + unknown[:1]), f"unknown key; {hint}")
    message = cause.message if len(cause.message) <= _MAX_MESSAGE else cause.message[:_MAX_MESSAGE] + " ..."
    return ConfigError(".".join(path) or "<top level>", message)


def resolve_path(path: str | os.PathLike, base: str | os.PathLike) -> Path:
    """``path`` itself when absolute, else ``base / path``."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base) / p


def sorted_keys(value):
    """``value`` with every mapping's keys in sorted order, lists kept in their order.

    Snakemake compares a job's params by their text, so two configs that differ only in key
    order (a hand-written file and a ``yaml.safe_dump`` of it) must give the same params.
    """
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def check_hierarchy_concepts(hierarchy_concepts: list[str], concepts: list[str], path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` (key concepts.hierarchy) naming every hierarchy concept that is
    not analysed: the hierarchy analysis needs all of them, and would otherwise fail after extraction."""
    missing = sorted(set(hierarchy_concepts) - set(concepts))
    if missing:
        raise ConfigError(
            "concepts.hierarchy",
            f"{path} lists {len(missing)} concept(s) that are not analysed: {', '.join(missing)}; "
            "add them to concepts.list or concepts.extra, or point concepts.hierarchy at a matching file",
        )


def load_schema() -> dict:
    """The config JSON schema as a dict."""
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def check_config(config: dict, base: str | os.PathLike = REPO_ROOT) -> None:
    """Raise :class:`ConfigError` on the first cross-key or file problem of a schema-valid config.

    ``config`` must already carry the schema's defaults (snakemake.utils.validate with
    set_default=True); relative paths are resolved against ``base`` (the workflow's folder).
    """
    _check_models(config)
    _check_taus(config)
    _check_sizes(config)
    _check_pilot(config, base)
    _check_files(config, base)


def _check_models(config: dict) -> None:
    for name, spec in config["models"].items():
        if "/" in name or name in {"all"}:
            raise ConfigError(f"models.{name}", "model names are used in file names: no '/' and not 'all'")
        if len(set(spec["checkpoints"])) != len(spec["checkpoints"]):
            raise ConfigError(f"models.{name}.checkpoints", "checkpoints must be distinct")


def _check_taus(config: dict) -> None:
    if not any(abs(config["cross_dataset_tau"] - tau) < 1e-12 for tau in config["taus"]):
        raise ConfigError("cross_dataset_tau", f"{config['cross_dataset_tau']} is not one of taus {config['taus']}")
    known = {c for spec in config["models"].values() for c in spec["checkpoints"]}
    unknown = sorted(set(config["cross_dataset_checkpoints"] or ()) - known)
    if unknown:
        raise ConfigError("cross_dataset_checkpoints", f"{unknown} are not checkpoints of any model ({sorted(known)})")


def _check_sizes(config: dict) -> None:
    pool = config["sentences"]["pool_size"]
    folds = config["folds"]
    if folds["positive_size"] > pool and not folds["allow_small_pool"]:
        raise ConfigError(
            "folds.positive_size",
            f"{folds['positive_size']} positives per concept cannot be drawn from pools of "
            f"sentences.pool_size={pool}; lower it or set folds.allow_small_pool: true",
        )
    if folds["positive_size"] < 2:
        raise ConfigError("folds.positive_size", "at least 2 positives are needed for a ranking score")


def _check_pilot(config: dict, base) -> None:
    pilot = config["pilot"]
    if not pilot["enabled"]:
        return
    if pilot["model"] not in config["models"]:
        raise ConfigError("pilot.model", f"{pilot['model']!r} is not one of models: {sorted(config['models'])}")
    checkpoints = config["models"][pilot["model"]]["checkpoints"]
    if pilot["checkpoint"] not in checkpoints:
        raise ConfigError("pilot.checkpoint", f"{pilot['checkpoint']!r} is not one of {checkpoints}")
    if "main" in pilot["sources"]:
        raise ConfigError("pilot.sources.main", "'main' names the sentences block's pool; give the source another name")
    pool_key = "pilot.pool_size" if pilot["sources"] and pilot["pool_size"] else "sentences.pool_size"
    pool_size = pilot["pool_size"] if pool_key == "pilot.pool_size" else config["sentences"]["pool_size"]
    too_big = [p for p in pilot["positive_sizes"] if p > pool_size]
    if too_big and not config["folds"]["allow_small_pool"]:
        raise ConfigError("pilot.positive_sizes", f"{too_big} exceed {pool_key}={pool_size}")
    for name, source in pilot["sources"].items():
        _check_source(source, f"pilot.sources.{name}", base)


def _require_file(key: str, value: str | None, base) -> None:
    if not value:
        raise ConfigError(key, "a path is required here")
    if not resolve_path(value, base).exists():
        raise ConfigError(key, f"{resolve_path(value, base)} does not exist")


def _check_files(config: dict, base) -> None:
    concepts = config["concepts"]
    if concepts["list"] != "men+hierarchy":
        _require_file("concepts.list", concepts["list"], base)
    for i, extra in enumerate(concepts["extra"]):
        _require_file(f"concepts.extra[{i}]", extra, base)
    _require_file("concepts.hierarchy", concepts["hierarchy"], base)
    if concepts["sense_overrides"] is not None:
        _require_file("concepts.sense_overrides", concepts["sense_overrides"], base)
    _check_men(config, base)
    _check_backend(config, base)


def _check_men(config: dict, base) -> None:
    men = config["concepts"]["men"]
    local = men_dir(men["dir"])
    if local is None:
        if not men["urls"]:
            raise ConfigError("concepts.men.urls", f"no URL and no local folder (concepts.men.dir or ${MEN_DIR_ENV})")
        return
    key = f"${MEN_DIR_ENV}" if os.environ.get(MEN_DIR_ENV) else "concepts.men.dir"
    folder = resolve_path(local, base)
    if not folder.is_dir():
        raise ConfigError(key, f"MEN folder {folder} does not exist")
    needed = {MEN_FILES[men["split"]][0], MEN_FILES["full"][0]}
    missing = sorted(f for f in needed if not (folder / f).is_file())
    if missing:
        raise ConfigError(key, f"MEN folder {folder} lacks {', '.join(missing)}")


def _check_backend(config: dict, base) -> None:
    _check_source(config["sentences"], "sentences", base)


def _check_source(sentences: dict, key: str, base) -> None:
    """The settings a sentence source (the sentences block or a pilot source at ``key``) needs."""
    backend = sentences["backend"]
    if backend == "builtin":
        _require_file(f"{key}.builtin.path", sentences["builtin"]["path"], base)
    elif backend == "file":
        _require_file(f"{key}.file.path", sentences["file"]["path"], base)
    elif backend == "openai":
        for name in ("base_url", "model"):
            if not sentences["openai"][name]:
                raise ConfigError(f"{key}.openai.{name}", f"required when {key}.backend is openai")
    elif backend == "hf" and not sentences["hf"]["model"]:
        raise ConfigError(f"{key}.hf.model", f"required when {key}.backend is hf")
