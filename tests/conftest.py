"""Shared fixtures: the repository root, the MEN folder of ../shared, and a fast, seeded torch."""

import os
from pathlib import Path

import pytest

from workflow_fixtures import MEN_DIR, REPO


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def men_dir() -> Path:
    """The MEN folder used by tests (never copied into the project)."""
    if not (MEN_DIR / "MEN_dataset_lemma_form_full").is_file():
        pytest.fail(f"MEN test data not found in {MEN_DIR}; set EXPERTALIGN_MEN_DIR")
    return MEN_DIR


@pytest.fixture(autouse=True)
def _seed_torch():
    """Seed torch before each test so random models and data are reproducible."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(42)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
