"""Helpers shared by tests: small, fast preview settings and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# A job with these settings renders in about a second per scene on one core.
FAST_PREVIEW = {
    "DREAMREEL_PREVIEW__WIDTH": "128",
    "DREAMREEL_PREVIEW__HEIGHT": "72",
    "DREAMREEL_PREVIEW__FPS": "4",
    "DREAMREEL_PREVIEW__SECONDS_PER_SCENE": "1",
}


def fast_env(monkeypatch: Any) -> None:
    for key, value in FAST_PREVIEW.items():
        monkeypatch.setenv(key, value)


def run_cli(*args: str, env: dict[str, str] | None = None, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run `dreamreel ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dreamreel.cli", *args],
        cwd=REPO,
        env=full_env,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def cli_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    proc = run_cli(*args, "--json", env=env)
    out = proc.stdout.decode()
    assert out.strip(), f"no JSON on stdout; stderr:\n{proc.stderr.decode()}"
    return proc.returncode, json.loads(out)
