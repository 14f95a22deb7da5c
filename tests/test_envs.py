"""The conda environments of envs/: every file parses, every rule names one, each rule's env provides
every third-party module its script imports (directly or through the expertalign modules it reaches),
and the pinned versions agree with pyproject.toml. Conda itself cannot reach its channels here, so
the environments are checked statically, not built."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from conftest import MEN_DIR
from expertalign.sources import PACKAGED_SOURCES
from workflow_fixtures import REPO

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
PACKAGE = REPO / "src" / "expertalign"
ENVS = sorted((REPO / "envs").glob("*.yaml"))
CONFIGS = [REPO / "config.yaml", REPO / "config" / "paper.yaml"]  # paper.yaml adds generate_sentences
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# The launching environment's packages (Snakemake parses the workflow and hands each script its
# `snakemake` object; expertalign.config reads YAML configs at parse): jobs never import them.
LAUNCHER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema", "pyyaml"}
# Import name -> conda-forge package names that provide it (identity when absent).
CONDA_NAMES = {
    "torch": {"pytorch"},
    "sklearn": {"scikit-learn"},
    "yaml": {"pyyaml"},
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "seaborn": {"seaborn", "seaborn-base"},
}
# conda-forge package name -> PyPI distribution name in pyproject.toml (identity when absent).
PYPI_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib", "seaborn-base": "seaborn"}
# Modules used without an import statement of their own: pandas' parquet engine, and accelerate,
# which transformers loads for device_map.
IMPLICIT = {"pyarrow": re.compile(r"\b(to|read)_parquet\("), "accelerate": re.compile(r"\bdevice_map\b")}
CONDA_SPEC = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_.-]*) *(?P<op>=|==|>=) *(?P<version>[0-9][0-9.]*)$")
PIP_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*) *(?P<op>==|>=|~=) *(?P<version>[0-9][0-9.]*)$")


def read_env(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """An env file's (conda packages, pip packages) as name -> lowest version allowed by its pin."""
    env = yaml.safe_load(path.read_text())
    assert set(env) <= {"name", "channels", "dependencies"}, f"{path.name}: unexpected keys {set(env)}"
    assert env["channels"] == ["conda-forge", "nodefaults"], f"{path.name}: channels must be conda-forge, nodefaults"
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            assert list(entry) == ["pip"], f"{path.name}: unexpected entry {entry}"
            for spec in entry["pip"]:
                match = PIP_SPEC.match(spec)
                assert match, f"{path.name}: pip entry {spec!r} is not `name==version`"
                pip[canonicalize_name(match["name"])] = match["version"]
            continue
        match = CONDA_SPEC.match(str(entry))
        assert match, f"{path.name}: dependency {entry!r} is not a pinned `name =version`"
        assert match["name"] not in conda, f"{path.name}: {match['name']} listed twice"
        conda[match["name"]] = match["version"]
    assert "python" in conda, f"{path.name}: python is not pinned"
    assert not pip or "pip" in conda, f"{path.name}: a pip section needs pip from conda-forge"
    return conda, pip


@functools.cache
def imports_of(path: Path) -> list[tuple[str, str | None, str | None]]:
    """(module, name taken from it or None, enclosing top-level def/class or None) of each import
    in a Python file: `import a.b` -> ("a.b", None, ...); `from a import b` -> ("a", "b", ...)."""
    found = []
    for top in ast.parse(path.read_text()).body:
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
        for node in ast.walk(top):
            if isinstance(node, ast.Import):
                found += [(alias.name, None, owner) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found += [(node.module, alias.name, owner) for alias in node.names]
    return found


def package_file(module: str) -> Path | None:
    """The source file of an expertalign module; None when ``module`` is not one."""
    parts = module.split(".")[1:]
    candidate = PACKAGE.joinpath(*parts).with_suffix(".py") if parts else PACKAGE / "__init__.py"
    return candidate if candidate.is_file() else None


def package_requests(path: Path) -> list[tuple[Path, set[str] | None]]:
    """(expertalign file, names the file takes from it or None for the whole module) per import;
    importing any expertalign module also runs expertalign/__init__.py."""
    requests = []
    for module, name, _ in imports_of(path):
        if module.split(".")[0] != "expertalign":
            continue
        requests.append((PACKAGE / "__init__.py", set()))
        submodule = package_file(f"{module}.{name}") if name else None
        if name is None or submodule is not None:
            requests.append((submodule or package_file(module), None))
        else:
            requests.append((package_file(module), {name}))
    return requests


def third_party_needs(script: Path) -> set[str]:
    """Third-party top-level modules a script needs: its own imports (any level), the module-level
    imports of every expertalign module it reaches, and the lazy imports inside the package functions
    or classes imported by name (OpenAIBackend's `import openai`); plus IMPLICIT modules."""
    needs: set[str] = set()
    taken: dict[Path, set[str] | None] = {script: None}  # file -> names used from it (None = all)
    todo = [script]
    while todo:
        path = todo.pop()
        for module, _, owner in imports_of(path):
            top = module.split(".")[0]
            wanted = taken[path]
            if top != "expertalign" and top not in sys.stdlib_module_names:
                if owner is None or wanted is None or owner in wanted:
                    needs.add(top)
        needs |= {name for name, pattern in IMPLICIT.items() if pattern.search(path.read_text())}
        for target, names in package_requests(path):
            current = taken.get(target, set())
            merged = None if current is None or names is None else current | names
            if target not in taken or merged != current:
                taken[target] = merged
                todo.append(target)
    needs.discard("snakemake")  # the script's `snakemake` object comes from the launching environment
    return needs


def loads_models(script: Path) -> bool:
    """Whether a script loads models (expertalign.models.load_model finds the packaged model by its
    module name, not by an import statement)."""
    return ("expertalign.models", "load_model") in {(module, name) for module, name, _ in imports_of(script)}


def workflow_rules(workdir: Path) -> dict[str, tuple[str | None, Path | None, bool]]:
    """rule -> (env file path of its conda: directive, script path, whether it runs code), over the
    default and the paper config."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    rules = {}
    for config in CONFIGS:
        with SnakemakeApi(OutputSettings(quiet=True)) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(),
                config_settings=ConfigSettings(configfiles=[config]),
                snakefile=REPO / "Snakefile",
                workdir=workdir,
            )._workflow
            for rule in workflow.rules:
                base = Path(rule.basedir.get_path_or_uri(secret_free=True))
                script = (base / rule.script).resolve() if rule.script else None
                runs_code = bool(rule.script or rule.shellcmd or rule.is_run or rule.notebook or rule.wrapper)
                conda = str((base / rule.conda_env).resolve()) if rule.conda_env else None
                rules[rule.name] = (conda, script, runs_code)
    return rules


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """Every rule of the workflow, parsed with MEN from the tests' folder (nothing downloaded)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXPERTALIGN_MEN_DIR", str(MEN_DIR))
        return workflow_rules(tmp_path_factory.mktemp("parse"))


def test_envs_exist_and_parse():
    assert ENVS, "no envs/*.yaml"
    for path in ENVS:
        read_env(path)


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_pins_agree_with_pyproject(path):
    """Each pinned package's lowest allowed version satisfies pyproject.toml's bound, and python
    requires-python."""
    bounds = {canonicalize_name(r.name): r.specifier for r in map(Requirement, PYPROJECT["dependencies"])}
    for extra in PYPROJECT["optional-dependencies"].values():
        bounds.update({canonicalize_name(r.name): r.specifier for r in map(Requirement, extra)})
    conda, pip = read_env(path)
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(conda["python"])
    for name, version in [*conda.items(), *pip.items()]:
        if name in ("python", "pip"):
            continue
        pypi = canonicalize_name(PYPI_NAMES.get(name, name))
        assert pypi in bounds, f"{path.name}: {name} is not a dependency in pyproject.toml"
        assert bounds[pypi].contains(version), f"{path.name}: {name} {version} outside pyproject's {bounds[pypi]}"


def test_every_package_dependency_is_in_an_env():
    provided = set()
    for path in ENVS:
        conda, pip = read_env(path)
        provided |= {canonicalize_name(PYPI_NAMES.get(name, name)) for name in conda} | set(pip)
    needed = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependencies"]} - LAUNCHER_ONLY
    assert needed <= provided, f"dependencies in no env: {sorted(needed - provided)}"


def test_every_rule_that_runs_code_names_an_existing_env(rules):
    missing = [name for name, (conda, _, runs) in rules.items() if runs and not conda]
    assert not missing, f"rules without a conda: directive: {missing}"
    for name, (conda, _, _) in rules.items():
        if conda:
            assert Path(conda) in ENVS, f"rule {name}: {conda} is not a file in envs/"


def test_each_rule_env_provides_its_scripts_imports(rules):
    checked = 0
    for name, (conda, script, _) in rules.items():
        if script is None:
            continue
        packages, pip = read_env(Path(conda))
        for module in sorted(third_party_needs(script)):
            providers = CONDA_NAMES.get(module, {module})
            assert providers & set(packages), f"rule {name} ({script.name}) imports {module}: not in {conda}"
        if loads_models(script):
            for distribution, _ in PACKAGED_SOURCES.values():
                assert canonicalize_name(distribution) in pip, f"rule {name}: {conda} lacks pip {distribution}"
        checked += 1
    assert checked >= 20, f"only {checked} rules with scripts found"


def test_import_analysis_follows_lazy_imports_only_into_what_is_imported(tmp_path):
    """The analysis itself: a script taking OpenAIBackend needs openai; one taking only generate_pool
    does not, although both reach expertalign.generation; parquet I/O needs pyarrow."""
    backend = tmp_path / "backend.py"
    backend.write_text("from expertalign.generation import OpenAIBackend\n")
    pool = tmp_path / "pool.py"
    pool.write_text("import pandas as pd\nfrom expertalign.generation import generate_pool\npd.read_parquet('x')\n")
    assert "openai" in third_party_needs(backend)
    assert {"pandas", "tqdm", "nltk", "pyarrow"} <= third_party_needs(pool)
    assert "openai" not in third_party_needs(pool) and "torch" not in third_party_needs(pool)
    assert {"torch", "transformers"} <= third_party_needs(REPO / "workflow" / "scripts" / "extract.py")


def test_a_job_in_a_conda_env_imports_this_checkouts_expertalign():
    """The envs do not install expertalign: a script job extends its sys.path with the launching
    interpreter's (snakemake.common.get_snakemake_searchpaths, used by Snakemake's script preamble),
    where `pip install -e .` put src/. Checked in an interpreter without site-packages, as in an env."""
    from snakemake.common import get_snakemake_searchpaths

    code = f"import sys; sys.path.extend({get_snakemake_searchpaths()!r}); import expertalign; print(expertalign.__file__)"
    found = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert Path(found.stdout.strip()).resolve() == (PACKAGE / "__init__.py").resolve()
