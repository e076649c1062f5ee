"""Shared test setup: offline hubs, pinned threads, a fresh DREAMREEL_HOME per test."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub/torch: never reach a hub, stable CPU timing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"  # evaluation and training sets kept in the repository (data/README.md)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own DREAMREEL_HOME and no stray config from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("DREAMREEL_") and not key.startswith("DREAMREEL_TEST_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DREAMREEL_HOME", str(tmp_path / "home"))
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    yield


@pytest.fixture
def repo_data() -> Path:
    """The repository's data/ folder; a test that needs it fails (never skips) when it is missing."""
    if not (DATA / "README.md").is_file():
        pytest.fail(f"the repository's data folder is missing: {DATA}")
    return DATA


# The services these machines and CI run (the Makefile exports the same defaults). A test that
# needs one talks to it and fails when it is not there; it never skips (run alone, a test file
# skipped them until stop 25 when the variables were unset).
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def postgres_url() -> str:
    return os.environ.get("DREAMREEL_TEST_POSTGRES_URL") or POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    return os.environ.get("DREAMREEL_TEST_REDIS_URL") or REDIS_URL
