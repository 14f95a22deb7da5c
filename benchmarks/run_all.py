"""Run every benchmark, each in its own process, then print and record one table.

Results: benchmarks/results/ap_cpu.json, benchmarks/results/extraction_<device>.json and the
table in benchmarks/results/README.md (rewritten from whatever JSON files are present, so CPU
and GPU results recorded on different machines sit side by side).

    python benchmarks/run_all.py                 # CPU: AP benchmark + 70m extraction
    python benchmarks/run_all.py --skip-ap       # e.g. on a GPU machine: extraction only
    python benchmarks/run_all.py --default-run   # also the README's main job, timed end to end
    python benchmarks/run_all.py --parse-time    # also snakemake -n's start-up, parse and DAG time
    python benchmarks/run_all.py --negatives     # also AP cost and alignment spread of the negative sampling
    python benchmarks/run_all.py --skip-ap --skip-extraction   # only rewrite the table from the JSON files
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import torch

from expertalign.workflow import atomic_path

log = logging.getLogger("benchmarks.run_all")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def run(script: str, *args: str) -> None:
    command = [sys.executable, str(HERE / script), *args]
    log.info("running %s", " ".join(command))
    subprocess.run(command, check=True)


def ap_rows(result: dict) -> list[str]:
    return [
        f"| AP, {result['units']:,} units x ({result['positives']} pos + {result['negatives']} neg) | CPU "
        f"({result['cpu_count']} cores) | sklearn loop {result['sklearn_loop_s']:.1f} s; vectorised "
        f"{result['vectorised_s']:.2f} s (sort {result['vectorised_sort_negatives_s']:.2f} + score "
        f"{result['vectorised_score_positives_s']:.2f}) | **{result['ratio']:.0f}x**; max abs diff "
        f"{result['max_abs_diff']:.1e}; peak +{result['vectorised_peak_mb']:.0f} MiB vs "
        f"+{result['sklearn_loop_peak_mb']:.0f} MiB; load avg {result['load_average_before']:.1f} |"
    ]


def extraction_rows(result: dict) -> list[str]:
    rows = []
    for run_ in result["runs"]:
        where = run_.get("gpu", f"CPU ({result['cpu_count']} cores)")
        split = run_["per_concept_s"]
        memory = f"; peak GPU {run_['peak_gpu_memory_gb']:.1f} GiB" if "peak_gpu_memory_gb" in run_ else ""
        rows.append(
            f"| extraction, pythia-{run_['shape']} shape ({run_['units']:,} units, {run_['dtype']}), "
            f"P={run_['positives']}, N={run_['negatives']}, {run_['concepts']} concepts | {where} | "
            f"per concept {split['total']:.3f} s = forward {split['forward']:.3f} + AP {split['ap']:.3f} + "
            f"I/O {split['io']:.4f}; streaming (positives + AP + I/O) {run_['per_concept_streaming_s']:.3f} s"
            f"{memory} | load avg {result['load_average_before']:.1f} |"
        )
    throughput = ", ".join(f"{name} {value:.1f}" for name, value in result["throughput_sentences_per_s"].items())
    rows.append(f"| forward throughput (sentences/s, 20-40 tokens) | {result['device']} | {throughput} | |")
    return rows


def default_run_rows(result: dict) -> list[str]:
    slowest = ", ".join(f"{name} {r['total_s']:.0f} s ({r['jobs']} jobs)" for name, r in list(result["rules"].items())[:4])
    return [
        f"| README main job (embedded default, `{result['command']}`, from empty) | CPU ({result['cpu_count']} cores) | "
        f"{result['wall_s'] / 60:.1f} min wall, {result['jobs']} jobs; most job time: {slowest} | "
        f"load avg {result['load_average_before']:.1f} before, {result['load_average_after']:.1f} after |"
    ]


def parse_time_rows(result: dict) -> list[str]:
    return [
        f"| `snakemake -n`, {name} config ({run_['jobs']} jobs), network refused | CPU ({result['cpu_count']} cores) | "
        f"CPU {run_['dry_run']['cpu_median_s']:.1f} s = start-up {run_['startup']['cpu_median_s']:.1f} + parse "
        f"{run_['parse_only']['cpu_median_s']:.2f} + DAG {run_['dag']['cpu_median_s']:.1f}; wall "
        f"{run_['dry_run']['wall_median_s']:.1f} s (medians of {result['repeats']}) | "
        f"load avg {result['load_average_before']:.1f} |"
        for name, run_ in result["configs"].items()
    ]


def ap_negatives_rows(result: dict) -> list[str]:
    return [
        f"| AP per concept, {result['units']:,} units, P={result['positives']}, N={result['negatives']}: one shared "
        f"set of N vs each concept's own N from a pool of M={result['negative_pool']:,} | CPU ({result['cpu_count']} "
        f"cores) | shared {result['shared_per_concept_s']:.2f} s; own negatives {result['own_per_concept_s']:.2f} s "
        f"(**{result['ratio']:.2f}x**, target <= 2x) | median of {result['concepts']} concepts, interleaved; "
        f"load avg {result['load_average_before']:.1f} |"
    ]


def negative_sampling_rows(result: dict) -> list[str]:
    schemes = "; ".join(
        f"{name}: mean {s['mean']:.3f}, sd {s['sd']:.3f} ({s['min']:.3f}-{s['max']:.3f})"
        for name, s in result["schemes"].items()
    )
    return [
        f"| alignment spread, embedded default ({result['model']} {result['checkpoint']}, {result['concepts']} "
        f"concepts, P={result['positive_size']}, N={result['negative_size']}, M={result['negative_pool_size']}), "
        f"Jaccard tau={result['tau']} vs MEN {result['men_split']}, {result['folds']} folds | CPU "
        f"({result['cpu_count']} cores) | {schemes} | **sd ratio {result['sd_ratio']:.2f}** (target <= 0.5) |"
    ]


def paper_scale_rows(result: dict) -> list[str]:
    shape = result["shape"]
    rows = []
    for run_ in result["rules"]:
        if run_.get("finished", True):
            timing = f"{run_['wall_s'] / 60:.1f} min wall, {run_['cpu_s'] / 60:.1f} min CPU"
            load = f"load avg {run_['load_average_before']:.1f}"
        else:
            timing = f"not finished at the deadline: {run_['cpu_s_so_far'] / 60:.1f} min CPU so far"
            load = f"load avg {run_['load_average_mean']:.1f}"
        rows.append(
            f"| {run_['rule']} on pythia-12b-shaped score files ({shape['concepts']} x {shape['units']:,} units, "
            f"{result['score_file_gb']:.1f} GB each) | CPU ({result['cpu_count']} cores) | {timing}; peak anonymous "
            f"{run_['peak_anonymous_gb']:.2f} GB, peak RSS {run_['peak_rss_gb']:.2f} GB (incl. mapped file pages) "
            f"| {load} |"
        )
    estimate = result.get("estimated_cpu_s_of_the_unit_passes")
    if estimate:
        rows.append(
            "| the same, CPU cost of the passes over the units (one 65,536-unit chunk timed x "
            f"{result['chunks_per_file']}) | CPU | "
            + "; ".join(f"{name} {seconds / 60:.1f} min CPU" for name, seconds in estimate.items())
            + " | plus fixed costs (bootstrap, permutations) |"
        )
    return rows


def precision_rows(result: dict) -> list[str]:
    rows = []
    for model in result["models"]:
        forward = "; ".join(
            f"{dtype} Jaccard " + "/".join(f"{r['mean_jaccard']:.3f}" for r in rows_) + ", flipped "
            + "/".join(f"{100 * r['flipped_fraction']:.2f}%" for r in rows_)
            for dtype, rows_ in model["forward"].items()
        )
        storage = "/".join(f"{r['mean_jaccard']:.4f}" for r in model["storage_float16"])
        rows.append(
            f"| expert sets vs float32 forward, {model['model']} ({model['units']:,} units), taus "
            f"{'/'.join(str(t) for t in result['taus'])} | CPU | {forward}; float16 storage Jaccard {storage} | "
            f"{result['concepts']} concepts, P={result['positives']}, N={result['negatives']}; load avg "
            f"{result['load_average']:.1f} |"
        )
    return rows


def intervention_rows(result: dict) -> list[str]:
    stages = result["stage_per_concept_s"]
    settings = result["settings"]
    return [
        f"| causal check per concept, {result['shape']} shape ({result['units']:,} units, {result['dtype']}), "
        f"P={result['positives']}, k in {settings.get('ks')}, {settings.get('control_seeds')} control seeds | "
        f"{result['device'].upper()} ({result['cpu_count']} cores) | {result['per_concept_s']:.0f} s per concept "
        f"(typical responses {stages.get('typical_responses', float('nan')):.0f} s) | "
        f"load avg {result['load_average_before']:.1f}; {result.get('note', '')} |"
    ]


#: result files of the table, in its row order, with the function that turns each into rows
TABLE_ROWS = (
    ("ap_cpu.json", ap_rows),
    ("extraction_*.json", extraction_rows),
    ("ap_negatives.json", ap_negatives_rows),
    ("negative_sampling.json", negative_sampling_rows),
    ("default_run.json", default_run_rows),
    ("parse_time.json", parse_time_rows),
    ("paper_scale_analysis.json", paper_scale_rows),
    ("precision.json", precision_rows),
    ("intervention_*.json", intervention_rows),
)


def table() -> str:
    lines = ["| benchmark | machine | result | notes |", "| --- | --- | --- | --- |"]
    for pattern, rows in TABLE_ROWS:
        for path in sorted(RESULTS.glob(pattern)):
            lines += rows(json.loads(path.read_text()))
    return "\n".join(lines) + "\n"

NOTES = """
Notes
- Targets: the README's main job under 15 min on a 2-core CPU; AP on CPU >= 50x the per-unit
  scikit-learn loop; per concept on one H100 at P=400, N=1000: pythia-70m <= 0.05 s, 1b <= 0.3 s,
  12b <= 2 s (the paper: 8, 27, 136 s on an A100).
- "per concept" shares the negative pool's forward pass among the job's concepts; "streaming" is
  what each further concept of the same job costs (its positives, AP, I/O). Model construction
  (random weights, no download) is in the JSON (model_build_s), not in these figures.
- The CPU is 2 cores shared with other jobs: the load average at the start of each run is
  recorded; the vectorised path uses both cores, the scikit-learn loop one, so load lowers the ratio.
- GPU rows appear once `python benchmarks/run_all.py --skip-ap` has run on a CUDA machine
  (bf16 weights; shapes 70m, 1b, 12b); none was available when these results were recorded.
- Parse target: under 5 s of parse for `snakemake -n` on 2 cores, no network once MEN is cached.
  Start-up is the interpreter and Snakemake's own imports (`snakemake --version`), parse what
  `--list-rules` adds (Snakefile, config checks, concept list), DAG what `-n` adds to that. CPU
  seconds barely move with the load of other jobs; wall seconds grow with it.
- Paper scale (`benchmarks/paper_scale_analysis.py`, run by hand: it writes two 10 GB files): the
  analysis rules on pythia-12b-shaped synthetic score files. Targets: peak <= 8 GB, <= 15 min on
  2 cores. "peak anonymous" is the memory a job holds; "peak RSS" also counts the clean pages of the
  memory-mapped score files, which the kernel reclaims under pressure. On a loaded machine CPU time
  (summed over cores) is the steadier figure.
- Precision (`benchmarks/precision.py`, run by hand): expert sets of bfloat16 and float16 forward
  passes, and of float16 score storage, against float32 (Jaccard and flipped memberships per tau).
"""


def write_readme(body: str) -> None:
    text = (
        "# Benchmark results\n\n"
        "Written by `python benchmarks/run_all.py` from the JSON files beside this file.\n\n" + body + NOTES
    )
    with atomic_path(RESULTS / "README.md") as tmp:
        Path(tmp).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-ap", action="store_true", help="do not rerun the CPU AP benchmark")
    parser.add_argument("--skip-extraction", action="store_true", help="do not rerun the extraction benchmark")
    parser.add_argument("--default-run", action="store_true",
                        help="also time the README's main job end to end (about 10 minutes on 2 cores)")
    parser.add_argument("--parse-time", action="store_true", help="also time snakemake -n on both configs")
    parser.add_argument("--negatives", action="store_true",
                        help="also the negative-sampling benchmarks: AP cost per concept and alignment over 8 folds")
    args, extraction_args = parser.parse_known_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not args.skip_ap:
        run("ap_cpu.py", "--out", str(RESULTS / "ap_cpu.json"))
    if not args.skip_extraction:
        device = f"cuda_{torch.cuda.get_device_name().replace(' ', '-')}" if torch.cuda.is_available() else "cpu"
        run("extraction.py", "--out", str(RESULTS / f"extraction_{device}.json"), *extraction_args)
    if args.default_run:
        run("default_run.py", "--out", str(RESULTS / "default_run.json"))
    if args.parse_time:
        run("parse_time.py", "--out", str(RESULTS / "parse_time.json"))
    if args.negatives:
        run("ap_negatives.py", "--out", str(RESULTS / "ap_negatives.json"))
        run("negative_sampling.py", "--out", str(RESULTS / "negative_sampling.json"))
    body = table()
    print(body)
    write_readme(body)


if __name__ == "__main__":
    main()
