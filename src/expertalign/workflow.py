"""File I/O and logging for the workflow's scripts: logging into the rule's log file, atomic writes,
and reads of intermediates that name a corrupt file and the command that rebuilds it.

A leaf module: it imports nothing from expertalign, so every domain module may use it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd


def log_to_file(path: str | os.PathLike) -> None:
    """Send logging (INFO and up) and stderr, tqdm bars included, to the rule's log file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", buffering=1)
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=True,
    )


def _umask() -> int:
    """The process's file-creation mask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temp path beside ``path``; on success it is renamed to ``path``, on error removed.

    The file gets the mode a plain ``open`` would give it (0666 less the umask), not mkstemp's 0600,
    so teammates on a shared filesystem can read results.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class CorruptFileError(ValueError):
    """An intermediate file that exists but cannot be read (truncated, half-written, wrong format)."""


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Turn a read error inside the block into a :class:`CorruptFileError` naming ``path`` and the
    command that rebuilds it (a missing file stays a FileNotFoundError)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise CorruptFileError(
            f"{path} cannot be read ({type(error).__name__}: {error}). It is a workflow output: "
            f"delete it and rerun, or rebuild it with: snakemake --cores all --forcerun {path}"
        ) from error


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """A Parquet intermediate as a table; a corrupt file raises :class:`CorruptFileError` naming it."""
    with reading(path):
        return pd.read_parquet(path)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz intermediate (no pickles); a corrupt file raises :class:`CorruptFileError`."""
    with reading(path), np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` as CSV atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_parquet(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` as Parquet atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write named arrays as an uncompressed .npz atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2) + "\n")


def write_jsonl(records: list[dict], path: str | os.PathLike) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of a JSONL file."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_tables(paths: list[str]) -> pd.DataFrame:
    """Concatenate CSV parts; empty parts (no rows) are skipped, an empty list gives an empty frame."""
    frames = [pd.read_csv(p) for p in paths if os.path.getsize(p) > 0]
    frames = [f for f in frames if not f.empty] or frames[:1]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
