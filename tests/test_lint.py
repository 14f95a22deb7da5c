"""The Snakemake catalog's checks: `snakemake --lint` prints no lint (with the default config and with
config/paper.yaml, which adds the sentence-generation rule) and snakefmt leaves the Snakefile and
rules/ unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import MEN_DIR
from workflow_fixtures import REPO

@pytest.mark.parametrize("configfile", [None, "config/paper.yaml"])
def test_snakemake_lint_is_clean(configfile, tmp_path):
    command = [sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(tmp_path)]
    if configfile:
        command += ["--configfile", str(REPO / configfile)]
    env = {**os.environ, "EXPERTALIGN_MEN_DIR": str(MEN_DIR)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    output = result.stdout + result.stderr
    assert "Lints for" not in output and result.returncode == 0, output


def test_snakefmt_leaves_the_workflow_unchanged():
    snakefmt = shutil.which("snakefmt", path=os.path.dirname(sys.executable)) or shutil.which("snakefmt")
    assert snakefmt, "snakefmt is not installed (pip install -e '.[test]')"
    result = subprocess.run([snakefmt, "--check", "--diff", "Snakefile", "rules/"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_catalog_usage_declares_conda_and_report():
    """.snakemake-workflow-catalog.yml: the usage block the workflow catalog renders, with its
    configuration instructions in config/README.md."""
    usage = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True
    assert (REPO / "config" / "README.md").is_file()
