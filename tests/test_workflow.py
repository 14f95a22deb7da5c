"""The workflow end to end on a tiny config, its fan-out on the paper config, and partial reruns."""

import random
import re
import string

import numpy as np
import pandas as pd
import pytest
import yaml

from chat_server import ChatServer, Reply, completion, numbered
from expertalign.concepts import load_men
from expertalign.concepts import pilot_concepts
from workflow_fixtures import CONCEPTS, REPO, VERBS, run_snakemake, tiny_config, write_sentences

pytestmark = pytest.mark.slow

FIGURES = [
    "fig1_stability", "fig2_alignment", "fig3_embedding_baseline", "fig5_expert_counts",
    "fig6_checkpoint_stability", "fig8_cosine_variants", "fig10_cross_dataset",
]
DATASETS = ["men", "mine"]  # MEN and the tiny config's user dataset
MODELS = ["tiny-gptneox", "tiny-bert"]
CHECKPOINTS = ["step1", "step2"]


def planned_jobs(result) -> dict[str, int]:
    """Job counts per rule from a dry run's stats table."""
    counts = {}
    for line in (result.stdout + result.stderr).splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, men_dir):
    """Run the whole tiny workflow once; later tests read its results."""
    root = tmp_path_factory.mktemp("tiny")
    config = tiny_config(root / "inputs", men_dir)
    work = root / "work"
    result = run_snakemake(work, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-6000:]
    return work, config


def test_every_figure_is_written(finished_run):
    work, _ = finished_run
    figures = work / "results" / "figures"
    names = FIGURES + [f"hierarchy/fig4_hierarchy_heatmap_{m}_{c}" for m in MODELS for c in CHECKPOINTS]
    names += [f"layers/fig7_layer_distribution_{m}_{v}" for m in MODELS for v in ("overview", "mlp", "attention")]
    names += [f"layers/appF_sublayer_distribution_{m}" for m in MODELS]
    for name in names:
        assert (figures / f"{name}.pdf").read_bytes()[:4] == b"%PDF", name
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_alignment_table_has_every_condition_with_finite_values(finished_run):
    work, _ = finished_run
    table = pd.read_csv(work / "results/tables/alignment.csv")
    jaccard = table[table["measure"] == "jaccard"]
    assert len(jaccard) == len(DATASETS) * len(MODELS) * len(CHECKPOINTS) * 2 * 2  # x folds x taus
    assert set(table["measure"]) == {"jaccard", "cosine", "cosine_centered", "hellinger"}
    assert table["dataset"].tolist() == sorted(table["dataset"], key=DATASETS.index)
    cosine = table[table["measure"] == "cosine"]
    assert np.isfinite(cosine["spearman"]).all()
    assert (cosine.loc[cosine["dataset"] == "men", "n_pairs"] >= 10).all()  # the MEN pairs among the 14 concepts
    assert (cosine.loc[cosine["dataset"] == "mine", "n_pairs"] == 9).all()
    assert ((cosine["ci_low"] <= cosine["spearman"]) & (cosine["spearman"] <= cosine["ci_high"])).all()


def test_score_files_cover_every_concept_and_unit(finished_run):
    work, _ = finished_run
    units = pd.read_parquet(work / "results/units/tiny-gptneox.parquet")
    scores = np.load(work / "results/ap/tiny-gptneox/step2/fold0.npz")
    assert sorted(scores["concepts"]) == sorted(CONCEPTS)
    assert scores["ap"].shape == (len(CONCEPTS), len(units))
    assert np.isfinite(scores["ap"]).all() and (scores["ap"] >= 0).all() and (scores["ap"] <= 1).all()
    assert (scores["n_pos"] == 6).all() and (scores["n_neg"] == 15).all()


def test_analysis_tables_hold_the_expected_rows(finished_run):
    work, _ = finished_run
    tables = work / "results" / "tables"
    counts = pd.read_csv(tables / "expert_counts.csv")
    assert len(counts) == len(MODELS) * len(CHECKPOINTS) * 2 * 2 * len(CONCEPTS)
    assert (counts["n_experts"] <= counts["n_units"]).all()
    hierarchy = pd.read_csv(tables / "hierarchy.csv")
    assert set(hierarchy["domain"]) == {"animal", "vehicle"}
    assert hierarchy["overlap"].between(0, 100).all()
    stability = pd.read_csv(tables / "checkpoint_stability.csv")
    assert set(zip(stability["checkpoint"], stability["next_checkpoint"])) == {("step1", "step2")}
    assert stability["jaccard"].between(0, 1).all()  # an empty union is 0, never NaN
    assert (stability.loc[stability["empty_union"], "jaccard"] == 0).all()
    folds = pd.read_csv(tables / "fold_stability.csv")
    assert {(4, 10), (6, 15)} <= set(zip(folds["positive_size"], folds["negative_size"]))
    embedding = pd.read_csv(tables / "embedding_baseline.csv")
    # WordPiece tokenizers: no leading-space variant
    assert set(embedding["baseline"]) == {"word", "contextual", "sentence_pool"}
    assert len(embedding) == len(DATASETS) * len(MODELS) * len(CHECKPOINTS) * 3
    assert np.isfinite(embedding["spearman"]).all()
    cross = pd.read_csv(tables / "cross_dataset.csv")
    assert list(dict.fromkeys(cross["dataset"])) == DATASETS
    assert cross.groupby("dataset")["ceiling"].first().to_dict() == {"men": 0.84, "mine": 0.9}
    experts = cross[(cross["kind"] == "experts") & (cross["method"] == "jaccard")]
    assert (experts["tau"] == 0.5).all() and len(experts) == len(DATASETS) * len(MODELS) * len(CHECKPOINTS)
    lexical = cross[cross["kind"] == "lexical"]
    assert len(lexical) == len(DATASETS) * len(MODELS) * len(CHECKPOINTS) and lexical["n_folds"].eq(1).all()
    table_md = (tables / "hierarchy" / "table_tiny-gptneox_step2.md").read_text()
    assert "animal" in table_md and "vehicle" in table_md and "n folds = 2" in table_md


def test_fold_summaries_have_one_row_per_condition_over_both_folds(finished_run):
    work, _ = finished_run
    tables = work / "results" / "tables"
    runs = len(MODELS) * len(CHECKPOINTS)
    alignment = pd.read_csv(tables / "alignment_summary.csv")
    assert len(alignment) == len(DATASETS) * runs * (2 + 3)  # two taus, two cosines and hellinger per dataset
    cosine = alignment[alignment["measure"] == "cosine"]
    assert (cosine["n_folds"] == 2).all()
    assert ((cosine["min"] <= cosine["mean"]) & (cosine["mean"] <= cosine["max"])).all()
    per_fold = pd.read_csv(tables / "alignment.csv")
    first = per_fold[(per_fold["measure"] == "cosine") & (per_fold["model"] == MODELS[0])
                     & (per_fold["checkpoint"] == "step2") & (per_fold["dataset"] == "mine")]
    row = cosine[(cosine["model"] == MODELS[0]) & (cosine["checkpoint"] == "step2")
                 & (cosine["dataset"] == "mine")].iloc[0]
    assert row["mean"] == pytest.approx(first["spearman"].mean())
    counts = pd.read_csv(tables / "expert_counts_summary.csv")
    assert len(counts) == runs * 2 and (counts["n_folds"] == 2).all()
    stability = pd.read_csv(tables / "checkpoint_stability_summary.csv")
    assert len(stability) == len(MODELS) * 2 and (stability["n_folds"] == 2).all()
    hierarchy = pd.read_csv(tables / "hierarchy_summary.csv")
    assert len(hierarchy) == runs * 2 and (hierarchy["n_folds"] == 2).all()  # two domains
    tests = pd.read_csv(tables / "hierarchy_tests_summary.csv")
    assert len(tests) == runs * 2 and (tests["n_folds"] == 2).all()  # two baselines


def test_html_report_embeds_every_figure_and_table_with_its_caption(finished_run):
    work, config = finished_run
    report = work / "report.html"
    result = run_snakemake(work, config, "--report", str(report))
    assert result.returncode == 0, result.stderr[-4000:]
    html = report.read_text()
    embedded = set(re.findall(r'"filename": "([^"]+)"', html))
    tables = ["alignment", "partial_alignment", "hierarchy", "hierarchy_tests", "expert_counts",
              "layer_distribution", "checkpoint_stability", "fold_stability", "embedding_baseline", "lexical_baseline",
              "alignment_summary", "expert_counts_summary", "checkpoint_stability_summary", "hierarchy_summary",
              "hierarchy_tests_summary", "cross_dataset"]
    assert {f"{name}.png" for name in FIGURES} <= embedded
    assert {f"{name}.csv" for name in tables} <= embedded
    assert {f"table_{m}_{c}.md" for m in MODELS for c in CHECKPOINTS} <= embedded
    assert html.count("data:image/png;charset=utf8;filename=") >= len(FIGURES)  # the images themselves, inline
    assert "Do expert neurons represent similarity the way humans do?" in html  # fig2's caption
    assert "Table expert_counts.csv" in html and "Experts per concept" in html  # a table's own caption


def test_nothing_left_to_do_after_a_run(finished_run):
    work, config = finished_run
    result = run_snakemake(work, config, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_a_statistics_setting_reruns_only_analyses(finished_run, tmp_path):
    work, config = finished_run
    changed = yaml.safe_load(config.read_text())
    changed["statistics"]["bootstrap_resamples"] = 60
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(run_snakemake(work, path, "-n"))
    assert jobs.get("analyse") == len(MODELS) * len(CHECKPOINTS) * 2
    assert "fig2_alignment" in jobs
    for upstream in ("extract", "merge_shards", "folds", "sentence_pool", "units", "extract_pilot"):
        assert upstream not in jobs


def test_dropping_a_checkpoint_reruns_no_extraction(finished_run, tmp_path):
    work, config = finished_run
    changed = yaml.safe_load(config.read_text())
    changed["models"]["tiny-bert"]["checkpoints"] = ["step1"]
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(run_snakemake(work, path, "-n"))
    assert "fig2_alignment" in jobs  # the figures lose a checkpoint
    for upstream in ("extract", "merge_shards", "units", "analyse", "embedding_baseline"):
        assert upstream not in jobs


def test_one_figure_runs_only_its_upstream(tmp_path, men_dir):
    config = tiny_config(tmp_path / "inputs", men_dir)
    jobs = planned_jobs(run_snakemake(tmp_path / "work", config, "-n", "results/figures/fig5_expert_counts.pdf"))
    assert jobs["fig5_expert_counts"] == 1
    assert jobs["extract"] == len(MODELS) * len(CHECKPOINTS) * 2  # two shards of 8 concepts, every fold in one job
    for unrelated in ("embedding_baseline", "extract_pilot", "fig2_alignment"):
        assert unrelated not in jobs


def test_paper_config_fans_out_over_models_checkpoints_folds_and_shards(tmp_path, men_dir):
    result = run_snakemake(tmp_path, REPO / "config" / "paper.yaml", "-n", timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = planned_jobs(result)
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    n_concepts = len(set(pd.read_csv(men_dir / "MEN_dataset_lemma_form_full", sep=" ", header=None)[[0, 1]].values.ravel())
                     | set(pd.read_csv(REPO / "resources/hierarchy_domains.tsv", sep="\t")["concept"]))
    shards = -(-n_concepts // paper["extraction"]["shard_size"])
    checkpoints = sum(len(m["checkpoints"]) for m in paper["models"].values())
    assert jobs["extract"] == checkpoints * shards  # one job scores its shard in every fold
    assert jobs["merge_shards"] == checkpoints * paper["folds"]["n_folds"]
    assert jobs["generate_sentences"] == n_concepts
    pilot = paper["pilot"]
    sources = len(pilot["sources"])
    assert sources == 3  # the paper's three generators
    assert jobs["pilot_sentence_pool"] == sources
    concepts = sorted(set(pd.read_csv(men_dir / "MEN_dataset_lemma_form_full", sep=" ", header=None)[[0, 1]].values.ravel())
                      | set(pd.read_csv(REPO / "resources/hierarchy_domains.tsv", sep="\t")["concept"]))
    chosen = pilot_concepts(load_men(men_dir, "dev"), load_men(men_dir, "full"), concepts, pilot["n_pairs"],
                            paper["folds"]["seed"])
    assert jobs["pilot_generate_sentences"] == sources * len(chosen)  # one generation job per source and concept
    assert jobs["extract_pilot"] == sources  # one job per source runs every (P, N, fold) of the sweep
    sizes = len(pilot["positive_sizes"]) * len(pilot["negative_sizes"])
    assert jobs["pilot_folds"] == sources  # one job draws every (P, N, fold) of a source
    assert jobs["pilot_stability"] == sources * sizes
    assert jobs["appF_sublayer_distribution"] == len(paper["models"])  # App. F.4-F.7, one figure per model
    planned = result.stdout + result.stderr
    for source in pilot["sources"]:
        assert f"results/pilot/sentences/{source}/pool.parquet" in planned
    for model in paper["models"]:
        assert f"results/figures/layers/appF_sublayer_distribution_{model}.pdf" in planned


def _generator_reply(request: dict) -> Reply:
    """A fake LLM's reply: as many distinct sentences about the prompt's word as it asks for."""
    prompt = request["messages"][0]["content"]
    n, word = re.search(r"Generate a set of (\d+) sentences", prompt), re.search(r"concept only as (\S+) ", prompt)
    lines = [f"The {word.group(1)} {random.choice(VERBS)} " + " ".join(
             "".join(random.choices(string.ascii_lowercase, k=7)) for _ in range(4)) + "."
             for _ in range(int(n.group(1)))]
    return completion(numbered(lines))


def test_pilot_compares_sentence_sources(tmp_path, men_dir):
    """Three pilot sources (the main file, a second file with other words, an OpenAI-compatible
    generator on a local fake server): each gets its own pool, sweep and stability rows, and the
    diversity table names each."""
    config_path = tiny_config(tmp_path / "inputs", men_dir)
    config = yaml.safe_load(config_path.read_text())
    other = tmp_path / "inputs" / "other.jsonl"
    write_sentences(other, seed=1)
    other.write_text(other.read_text().replace(" near the ", " far beyond the quiet "))
    with ChatServer(default=_generator_reply) as server:
        config["pilot"].update(
            positive_sizes=[4], negative_sizes=[10], pool_size=8,
            sources={"a": {"backend": "file", "file": {"path": config["sentences"]["file"]["path"]}},
                     "b": {"backend": "file", "file": {"path": str(other)}},
                     "llm": {"backend": "openai", "openai": {"base_url": server.url, "model": "fake-model"}}},
        )
        config_path.write_text(yaml.safe_dump(config))
        work = tmp_path / "work"
        target = "results/pilot/analysis/{s}/tiny-gptneox/step2/P4_N10.csv"
        result = run_snakemake(work, config_path, "--cores", "2", "results/tables/sentence_diversity.csv",
                               *(target.format(s=s) for s in ("a", "b", "llm")))
    assert result.returncode == 0, result.stderr[-6000:]
    pilot = (work / "results/pilot/concepts.txt").read_text().split()
    generated = work / "results/pilot/sentences/llm/concepts"
    assert sorted(p.stem for p in generated.glob("*.jsonl")) == pilot  # one generation job per pilot concept
    for source in ("a", "b", "llm"):
        pool = pd.read_parquet(work / f"results/pilot/sentences/{source}/pool.parquet")
        assert (pool.groupby("concept").size() == 8).all()  # pilot.pool_size per pilot concept
        rows = pd.read_csv(work / target.format(s=source))
        assert set(rows["source"]) == {source} and rows["jaccard"].dropna().between(0, 1).all()
    diversity = pd.read_csv(work / "results/tables/sentence_diversity.csv")
    assert set(diversity["source"]) == {"main", "a", "b", "llm"}
    ratios = diversity.groupby("source")["type_token_ratio"].mean()
    assert ratios["b"] != ratios["a"]
