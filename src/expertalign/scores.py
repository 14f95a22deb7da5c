"""Score files: the AP and AUROC of every unit for each concept of one fold, on disk.

Score file (uncompressed npz): concepts [n_c] str, ap [n_c, n_units] and auroc [n_c, n_units]
float32 (or float16, the compact ``extraction.score_dtype``), n_pos [n_c] int64, n_neg [n_c] int64.
Reading memory-maps ap and auroc from inside the npz, so a pythia-12b file (761 x 1,658,880
units, 5 GB per matrix) is streamed by the unit-chunked analyses instead of loaded. This module
imports neither torch nor transformers: analysis jobs read scores without paying for them.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from expertalign.workflow import reading, save_npz

SCORES = ("ap", "ap_normalized", "auroc")
SCORE_DTYPES = ("float32", "float16")  # storage of ap and auroc in score files
RESULT_KEYS = ("concepts", "ap", "auroc", "n_pos", "n_neg")


def normalized_ap(ap, n_pos, n_neg) -> np.ndarray:
    """(AP - r) / (1 - r) with r = n_pos / (n_pos + n_neg), the positive rate (AP's chance level).

    ``ap`` [n_units] or [n_concepts, n_units]; ``n_pos``, ``n_neg`` scalars or [n_concepts].
    0 at chance, 1 for a perfect unit, whatever the class balance.
    """
    ap = np.asarray(ap)
    n_pos = np.asarray(n_pos, dtype=np.float64)
    n_neg = np.asarray(n_neg, dtype=np.float64)
    if np.any(n_pos <= 0) or np.any(n_neg <= 0):
        raise ValueError("normalized AP needs n_pos > 0 and n_neg > 0")
    rate = n_pos / (n_pos + n_neg)
    if ap.ndim == 2 and rate.ndim == 1:
        rate = rate[:, None]
    return ((ap - rate) / (1.0 - rate)).astype(ap.dtype if ap.dtype.kind == "f" else np.float64)


def _check_result(result: Mapping, where: str) -> None:
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    n_concepts = len(result["concepts"])
    if len(set(result["concepts"])) != n_concepts:
        raise ValueError(f"{where}: concepts are not unique")
    if np.shape(result["ap"]) != np.shape(result["auroc"]) or np.ndim(result["ap"]) != 2:
        raise ValueError(f"{where}: ap and auroc must be matrices of one shape [n_concepts, n_units]")
    for key in ("ap", "n_pos", "n_neg"):
        if len(result[key]) != n_concepts:
            raise ValueError(f"{where}: {key} has {len(result[key])} rows for {n_concepts} concepts")


def save_scores(path: str | os.PathLike, result: Mapping, dtype: str = "float32") -> None:
    """Write an extraction result as an uncompressed .npz, atomically; ap and auroc stored as ``dtype``
    (float32, or float16: half the size, AP rounded to ~3 significant digits)."""
    _check_result(result, f"scores for {path}")
    if dtype not in SCORE_DTYPES:
        raise ValueError(f"score dtype must be one of {SCORE_DTYPES}, got {dtype!r}")
    save_npz(
        path,
        concepts=np.asarray(result["concepts"], dtype=str),
        ap=np.asarray(result["ap"], dtype=dtype),
        auroc=np.asarray(result["auroc"], dtype=dtype),
        n_pos=np.asarray(result["n_pos"], dtype=np.int64),
        n_neg=np.asarray(result["n_neg"], dtype=np.int64),
    )


def _stored_matrix(path: str | os.PathLike, fh, info: zipfile.ZipInfo) -> np.ndarray | None:
    """A read-only memory map of a 2-d array stored uncompressed in an npz, or None when it cannot be mapped."""
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    fh.seek(info.header_offset + 26)  # local file header: name and extra-field lengths at bytes 26-29
    name_length, extra_length = struct.unpack("<HH", fh.read(4))
    fh.seek(info.header_offset + 30 + name_length + extra_length)
    version = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(fh)
    if len(shape) != 2 or 0 in shape or dtype.hasobject:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape, order="F" if fortran_order else "C")


def _npz_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an npz by name: uncompressed matrices memory-mapped, the rest read."""
    arrays = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            mapped = _stored_matrix(path, fh, info)
            if mapped is None:
                with archive.open(info) as member:
                    mapped = np.lib.format.read_array(member, allow_pickle=False)
            arrays[name] = mapped
    return arrays


def read_scores(path: str | os.PathLike) -> dict:
    """The whole result stored in a score file (the dict :func:`extract_scores` returns); ap and
    auroc are read-only memory maps in their stored dtype (float32 or float16). A corrupt or
    truncated file raises CorruptFileError naming it and the command that rebuilds it."""
    with reading(path):
        data = _npz_arrays(path)
    missing = [key for key in RESULT_KEYS if key not in data]
    if missing:
        raise ValueError(f"score file {path} lacks {missing}")
    result = {key: data[key] for key in RESULT_KEYS}
    result["concepts"] = result["concepts"].tolist()
    _check_result(result, f"score file {path}")
    return result


def load_scores(path: str | os.PathLike, score: str = "ap") -> tuple[list[str], np.ndarray]:
    """(concepts, scores [n_c, n_units] float32) of a score file for ``score`` in ap | ap_normalized | auroc.

    ap_normalized = (ap - r) / (1 - r), r = n_pos / (n_pos + n_neg) of each concept. ap and auroc
    stored as float32 come back memory-mapped (no copy: consumers stream them in unit chunks);
    ap_normalized and float16 files are computed into memory, 4 bytes per score (5 GB for pythia-12b).
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    result = read_scores(path)
    stored = result["auroc" if score == "auroc" else "ap"]
    if score != "ap_normalized":
        return result["concepts"], stored if stored.dtype == np.float32 else stored.astype(np.float32)
    values = np.empty(stored.shape, dtype=np.float32)
    for row in range(len(values)):  # row by row: no float64 copy of the whole matrix
        values[row] = normalized_ap(stored[row].astype(np.float32), result["n_pos"][row], result["n_neg"][row])
    return result["concepts"], values


def merge_scores(paths: Sequence[str | os.PathLike]) -> dict:
    """One result from shard score files (concepts concatenated in the given order, each once)."""
    if not paths:
        raise ValueError("no score files to merge")
    shards = [read_scores(path) for path in paths]
    widths = {shard["ap"].shape[1] for shard in shards}
    if len(widths) != 1:
        raise ValueError(f"shards have different numbers of units: {sorted(widths)}")
    concepts = [concept for shard in shards for concept in shard["concepts"]]
    repeated = sorted(concept for concept, count in Counter(concepts).items() if count > 1)
    if repeated:
        raise ValueError(f"concepts in more than one shard: {repeated}")
    merged = {key: np.concatenate([shard[key] for shard in shards]) for key in RESULT_KEYS if key != "concepts"}
    return {"concepts": concepts, **merged}
