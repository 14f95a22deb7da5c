"""The analysis rules at the paper's largest scale, simulated: pythia-12b-shaped score files.

Writes synthetic score files of the pythia-12b shape (761 concepts x 1,658,880 units, ap and
auroc float32: 10.1 GB each) streamed row block by row block into the workflow's npz format,
then runs the real rule scripts (workflow/scripts/analyse.py, checkpoint_stability.py,
fold_stability.py) each in its own process with config/paper.yaml's taus and statistics, and
records per rule the wall time, the peak resident memory (getrusage: includes the clean,
reclaimable pages of the memory-mapped score files) and the peak anonymous memory (sampled
from /proc: what the job really holds), with the load average. Two files stand for two
checkpoints (checkpoint_stability) or two folds (fold_stability). Files are deleted afterwards.

    python benchmarks/paper_scale_analysis.py --out benchmarks/results/paper_scale_analysis.json
    python benchmarks/paper_scale_analysis.py --units 103680 --out /tmp/small.json   # 1/16 scale
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import yaml

from expertalign.concepts import load_hierarchy
from expertalign.workflow import save_npz, write_json, write_parquet

log = logging.getLogger("benchmarks.paper_scale_analysis")
REPO = Path(__file__).resolve().parents[1]
N_CONCEPTS, N_UNITS_12B = 761, 1_658_880
PAPER = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def pythia_12b_units(n_units: int) -> pd.DataFrame:
    """A unit table of the 12b layout (36 layers x qkv 15360, dense 5120, h_to_4h 20480, 4h_to_h 5120), cut to n_units."""
    widths = {"query_key_value": 15360, "dense": 5120, "dense_h_to_4h": 20480, "dense_4h_to_h": 5120}
    frames = [
        pd.DataFrame({"layer": layer, "block": "attention" if sub in ("query_key_value", "dense") else "mlp",
                      "sublayer": sub, "channel": np.arange(width)})
        for layer in range(36) for sub, width in widths.items()
    ]
    table = pd.concat(frames, ignore_index=True).iloc[:n_units]
    table.insert(0, "unit", np.arange(len(table)))
    table.insert(1, "module", "layers." + table["layer"].astype(str) + "." + table["sublayer"])
    return table


def concept_ids() -> tuple[list[str], pd.DataFrame]:
    """761 concept ids: the hierarchy domains' concepts first, then made-up ids; and the hierarchy table."""
    hierarchy = load_hierarchy(REPO / PAPER["concepts"]["hierarchy"])
    concepts = list(dict.fromkeys(hierarchy["concept"]))
    concepts += [f"concept{i:03d}-n" for i in range(N_CONCEPTS - len(concepts))]
    return concepts, hierarchy


def write_member(archive: zipfile.ZipFile, name: str, shape: tuple[int, int], rows, dtype=np.float32) -> None:
    """Stream one [n_rows, n_units] matrix into an npz member, ``rows`` yielding row blocks."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(member, header)
        for block in rows:
            member.write(np.ascontiguousarray(block, dtype=dtype).tobytes())


def synthetic_score_file(path: Path, concepts: list[str], n_units: int, seed: int, block: int = 16) -> None:
    """A score file of random AP (u**3, u uniform: 21% of scores > 0.5, 3.5% > 0.9) and AUROC, written row block by row block."""
    rng = np.random.default_rng(seed)

    def rows():
        for start in range(0, len(concepts), block):
            yield rng.random((min(block, len(concepts) - start), n_units), dtype=np.float32) ** 3

    shape = (len(concepts), n_units)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, values in (("concepts", np.asarray(concepts, dtype=str)),
                             ("n_pos", np.full(len(concepts), 400, np.int64)),
                             ("n_neg", np.full(len(concepts), 1000, np.int64))):
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, values, allow_pickle=False)
        write_member(archive, "ap", shape, rows())
        write_member(archive, "auroc", shape, rows())


def synthetic_inputs(folder: Path, n_units: int) -> dict[str, Path]:
    """Two score files, the unit table, MEN-like pairs and a lexical matrix under ``folder``."""
    concepts, hierarchy = concept_ids()
    rng = np.random.default_rng(0)
    files = {"scores_a": folder / "a.npz", "scores_b": folder / "b.npz", "units": folder / "units.parquet",
             "pairs": folder / "pairs.csv", "lexical": folder / "lexical.npz", "hierarchy": folder / "hierarchy.tsv"}
    for seed, key in enumerate(("scores_a", "scores_b")):
        start = time.perf_counter()
        synthetic_score_file(files[key], concepts, n_units, seed)
        log.info("wrote %s (%.1f GB) in %.0f s", files[key], files[key].stat().st_size / 1e9,
                 time.perf_counter() - start)
    write_parquet(pythia_12b_units(n_units), files["units"])
    pair_index = rng.choice(len(concepts), size=(3000, 2))
    pair_index = pair_index[pair_index[:, 0] != pair_index[:, 1]]
    pd.DataFrame({"word1": np.asarray(concepts)[pair_index[:, 0]], "word2": np.asarray(concepts)[pair_index[:, 1]],
                  "score": rng.uniform(0, 50, len(pair_index))}).to_csv(files["pairs"], index=False)
    lexical = rng.random((len(concepts), len(concepts)), dtype=np.float32)
    save_npz(files["lexical"], concepts=np.asarray(concepts), similarity=(lexical + lexical.T) / 2)
    hierarchy.to_csv(files["hierarchy"], sep="\t", index=False)
    return files


def rule_namespace(rule: str, files: dict[str, str], out: Path) -> SimpleNamespace:
    """The ``snakemake`` object a rule script sees, for one of analyse, checkpoint_stability, fold_stability."""
    taus, stats = PAPER["taus"], PAPER["statistics"]
    stats = {"confidence_level": 0.95, **stats}
    common = dict(log=[str(out / f"{rule}.log")], rule=rule)
    if rule == "analyse":
        tables = ["alignment", "partial_alignment", "hierarchy", "hierarchy_tests", "hierarchy_pairs",
                  "expert_counts", "layer_distribution"]
        return SimpleNamespace(
            input=SimpleNamespace(scores=files["scores_a"], units=files["units"], pairs=files["pairs"],
                                  lexical=files["lexical"]),
            output=SimpleNamespace(**{name: str(out / f"{name}.csv") for name in tables}),
            params=SimpleNamespace(score="ap", taus=taus, hierarchy_tau=PAPER["hierarchy_tau"],
                                   hierarchy=pd.read_csv(files["hierarchy"], sep="\t"), stats=stats),
            wildcards=SimpleNamespace(model="pythia-12b", checkpoint="step143000", fold="0"), **common)
    if rule == "checkpoint_stability":
        return SimpleNamespace(
            input=SimpleNamespace(current=files["scores_a"], following=files["scores_b"]),
            output=SimpleNamespace(csv=str(out / "stability.csv")), params=SimpleNamespace(score="ap", taus=taus),
            wildcards=SimpleNamespace(model="pythia-12b", checkpoint="step72000", next="step143000", fold="0"),
            **common)
    if rule == "fold_stability":
        return SimpleNamespace(
            input=SimpleNamespace(folds=[files["scores_a"], files["scores_b"]]),
            output=SimpleNamespace(csv=str(out / "fold_stability.csv")),
            params=SimpleNamespace(score="ap", taus=taus, positive_size=400, negative_size=1000),
            wildcards=SimpleNamespace(model="pythia-12b", checkpoint="step143000"), **common)
    raise ValueError(f"unknown rule {rule!r}")


def anonymous_kb() -> int:
    """Resident anonymous memory of this process (kB), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")


def run_rule(rule: str, files: dict[str, str], out: Path) -> dict:
    """Run one rule script in this process; wall time, peak RSS and sampled peak anonymous memory."""
    peak = {"anon_kb": anonymous_kb()}
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            peak["anon_kb"] = max(peak["anon_kb"], anonymous_kb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    runpy.run_path(str(REPO / "workflow" / "scripts" / f"{rule}.py"),
                   init_globals={"snakemake": rule_namespace(rule, files, out)})
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"rule": rule, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_gb": usage.ru_maxrss / 2**20, "peak_anonymous_gb": peak["anon_kb"] / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=N_UNITS_12B, help="units per score file (12b: 1,658,880)")
    parser.add_argument("--rules", nargs="+", default=["analyse", "checkpoint_stability", "fold_stability"])
    parser.add_argument("--folder", type=Path, default=None, help="where the synthetic files go (default: a temp dir)")
    parser.add_argument("--reuse", type=Path, default=None, help="a folder of synthetic inputs kept from a killed run")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)  # internal: run one rule, print its JSON
    parser.add_argument("--files", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.run_one:
        print(json.dumps(run_rule(args.run_one, json.loads(args.files), args.out)))
        return
    folder = args.reuse or Path(tempfile.mkdtemp(prefix="paper_scale_", dir=args.folder))
    try:
        start = time.perf_counter()
        if args.reuse:
            names = {"scores_a": "a.npz", "scores_b": "b.npz", "units": "units.parquet", "pairs": "pairs.csv",
                     "lexical": "lexical.npz", "hierarchy": "hierarchy.tsv"}
            files = {key: str(folder / name) for key, name in names.items()}
        else:
            files = {key: str(path) for key, path in synthetic_inputs(folder, args.units).items()}
        write_s = None if args.reuse else time.perf_counter() - start
        rules = []
        for rule in args.rules:
            load = os.getloadavg()[0]
            command = [sys.executable, __file__, "--run-one", rule, "--files", json.dumps(files), "--out", str(folder)]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rules.append({**result, "load_average_before": load, "load_average_after": os.getloadavg()[0]})
            write_json({"partial": True, "rules": rules}, args.out)  # what has run, should a later rule be killed
            log.info("%s", rules[-1])
    finally:
        if not args.reuse:
            shutil.rmtree(folder)
    report = {
        "shape": {"concepts": N_CONCEPTS, "units": args.units, "matrix_gb": N_CONCEPTS * args.units * 4 / 1e9},
        "score_file_gb": 2 * N_CONCEPTS * args.units * 4 / 1e9, "write_two_files_s": write_s,
        "taus": PAPER["taus"], "statistics": PAPER["statistics"], "cpu_count": os.cpu_count(),
        "targets": {"peak_gb": 8, "wall_s": 900}, "rules": rules,
    }
    write_json(report, args.out)


if __name__ == "__main__":
    main()
