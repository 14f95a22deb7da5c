"""Parsing the workflow reaches for the network only to download MEN (the concept list shapes the
DAG), and not once MEN is in its download cache: `snakemake -n` on config/paper.yaml then runs with
every socket refused (the guard of benchmarks/parse_time.py, which times these runs)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys

import yaml

from expertalign.concepts import MEN_FILES
from workflow_fixtures import REPO

spec = importlib.util.spec_from_file_location("parse_time", REPO / "benchmarks" / "parse_time.py")
parse_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parse_time)


def paper_config_with_men_cache(tmp_path, cache_dir):
    """config/paper.yaml with MEN taken from the download cache ``cache_dir`` (no local MEN folder)."""
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["concepts"]["men"] |= {"dir": None, "cache_dir": str(cache_dir)}
    path = tmp_path / "paper_cached.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dry_run_with_men_cached_needs_no_network(tmp_path, monkeypatch, men_dir):
    cache = tmp_path / "men_cache"
    cache.mkdir()
    for name, _ in MEN_FILES.values():
        shutil.copy(men_dir / name, cache / name)
    monkeypatch.delenv("EXPERTALIGN_MEN_DIR", raising=False)
    config = paper_config_with_men_cache(tmp_path, cache)
    workdir = tmp_path / "run"
    workdir.mkdir()
    _, _, output = parse_time.offline_snakemake(
        ["--snakefile", str(REPO / "Snakefile"), "--configfile", str(config), "-n", "--quiet", "rules", "host"],
        str(workdir),
    )
    assert int(parse_time.TOTAL_JOBS.findall(output)[-1]) > 1000  # the paper's DAG, from the cached MEN


def test_the_guard_refuses_a_download(tmp_path, monkeypatch):
    """Without MEN anywhere, parsing tries the download, and the guard refuses it."""
    monkeypatch.delenv("EXPERTALIGN_MEN_DIR", raising=False)
    config = paper_config_with_men_cache(tmp_path, tmp_path / "empty_cache")
    try:
        parse_time.offline_snakemake(["--snakefile", str(REPO / "Snakefile"), "--configfile", str(config),
                                      "--list-rules"], str(tmp_path))
    except RuntimeError as error:
        assert "network access while parsing the workflow" in str(error)
    else:
        raise AssertionError("parsing without MEN succeeded with the network refused")


def test_parse_time_imports_of_the_package_pull_in_no_heavy_library():
    """The expertalign modules rules/*.smk and the Snakefile import at parse load none of torch,
    transformers, scipy, scikit-learn, matplotlib, nltk or openai (seconds of import on 2 cores)."""
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    modules = sorted({m for path in sources for m in re.findall(r"^(?:from|import) (expertalign[\w.]*)",
                                                                 path.read_text(), re.MULTILINE)})
    assert "expertalign.config" in modules
    heavy = ["torch", "transformers", "scipy", "sklearn", "matplotlib", "seaborn", "nltk", "openai", "accelerate"]
    code = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n" \
           f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(heavy)!r}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"parse-time imports load {loaded.strip()}"


def test_the_package_has_no_import_cycle():
    """Every expertalign import (module level or inside a function) points one way: no module
    reaches itself through others (workflow.py, the file I/O, imports nothing from the package)."""
    import ast
    import graphlib

    package = REPO / "src" / "expertalign"
    graph = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {
            node.module.split(".")[1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("expertalign.")
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "expertalign"
            for alias in node.names
        }
    assert graph["workflow"] == set()
    assert "concepts" in graph["wordnet"] and "wordnet" not in graph["concepts"]
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
