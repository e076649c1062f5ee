"""Resident memory (RSS) of the long-lived processes: the Telegram bot and the web API, each
submit-only (jobs go elsewhere: Celery workers; here the runner is parked) and with the
in-process runner after it made one video with the default settings.

    .venv/bin/python -m bench.bench_memory

Each process is a fresh interpreter that builds what `dreamreel bot` / `dreamreel api` build
(service, bot + dispatcher, or the ASGI app), serves a few diaries, and reports its RSS and peak
RSS. The reference in the same run is a bare interpreter that imported FastAPI and aiogram. The
budget for a submit-only process is 200 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_MB = 200.0

CHILD = r"""
import asyncio, json, resource, sys
import psutil
kind, runner = sys.argv[1], sys.argv[2]
if kind == "bare":
    import aiogram, fastapi, uvicorn  # noqa: F401  (what any bot/API process loads)
else:
    from dreamreel.settings import load_settings
    from dreamreel.wiring import build_service
    settings = load_settings(telegram_token="1:x", telegram_api_base="http://127.0.0.1:9")
    service = build_service(settings, background=True)
    if runner == "submit-only":
        class Parked:
            def submit(self, job_id): pass
            def close(self): pass
        service.runner = Parked()
    if kind == "api":
        from fastapi.testclient import TestClient
        from api.app import create_app
        with TestClient(create_app(service, settings)) as client:
            for i in range(20):
                r = client.post("/v1/diaries", json={"text": "I dreamt of a quiet harbour at dawn.", "user": f"u{i}"},
                                headers={"Authorization": "Bearer bench-key-0123456789abcdef"})
                assert r.status_code == 202, r.text
            if runner == "in-process":
                assert service.wait(r.json()["job_id"], 300).status == "done"
    else:
        from bot.app import build_bot, build_dispatcher
        dispatcher = build_dispatcher(service, settings)
        bot = build_bot(settings)
        for i in range(20):
            job = service.submit_diary("I dreamt of a quiet harbour at dawn.", channel="telegram", user=str(i))
        if runner == "in-process":
            assert service.wait(job.job_id, 300).status == "done"
        asyncio.run(bot.session.close())
    service.close()
heavy = [m for m in ("torch", "diffusers", "transformers", "detoxify", "cv2", "PIL", "numpy") if m in sys.modules]
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 2**20,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "heavy": heavy}))
"""


def measure(kind: str, runner: str, home: Path) -> dict[str, object]:
    env = dict(os.environ, DREAMREEL_HOME=str(home / f"{kind}-{runner}"), DREAMREEL_API_KEYS="bench-key-0123456789abcdef",
               DREAMREEL_API_JOBS_PER_HOUR="1000000", DREAMREEL_LOG_LEVEL="WARNING", PYTHONPATH=str(REPO),
               DREAMREEL_PREVIEW__WIDTH="128", DREAMREEL_PREVIEW__HEIGHT="72")
    result = subprocess.run([sys.executable, "-c", CHILD, kind, runner], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{kind}/{runner} failed: {result.stderr[-1500:]}")
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main(argv: list[str] | None = None) -> int:
    rows = [("bare", "-"), ("api", "submit-only"), ("bot", "submit-only"), ("api", "in-process"), ("bot", "in-process")]
    with tempfile.TemporaryDirectory() as tmp:
        results = {(kind, runner): measure(kind, runner, Path(tmp)) for kind, runner in rows}
    reference = float(results[("bare", "-")]["rss_mb"])  # type: ignore[arg-type]
    print(f"resident memory after 20 diaries (in-process: and one video made); budget submit-only {BUDGET_MB:.0f} MB")
    over = []
    for (kind, runner), r in results.items():
        rss, peak = float(r["rss_mb"]), float(r["peak_mb"])  # type: ignore[arg-type]
        label = "bare interpreter + fastapi + aiogram" if kind == "bare" else f"{kind} process, {runner}"
        heavy = ",".join(r["heavy"]) or "-"  # type: ignore[arg-type]
        print(f"  {label:38s} rss={rss:6.1f} MB peak={peak:6.1f} MB  x{rss / reference:4.2f} of bare  heavy: {heavy}")
        if runner == "submit-only" and rss > BUDGET_MB:
            over.append(f"{kind} {runner}")
    print(f"  submit-only within {BUDGET_MB:.0f} MB: {'no: ' + ', '.join(over) if over else 'yes'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
