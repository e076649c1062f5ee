"""Requests per second of `POST /v1/diaries` under concurrent clients, next to a bare FastAPI
endpoint measured the same way in the same run.

    .venv/bin/python bench/bench_api.py [--clients 50] [--seconds 8]

Each server runs in its own process (uvicorn, one worker); the load comes from this process
(httpx, asyncio, one connection per client). The DreamReel app is the real one (service, SQLite
under a temporary DREAMREEL_HOME, callbacks, metrics) with the job runner parked, so jobs are
committed but not rendered: the number measures the web hook, not the video renderer. The
per-key job limit (DREAMREEL_API_JOBS_PER_HOUR, 100 by default) is raised inside the bench, or
the figure would measure 429 answers. Both servers' resident memory after the load is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.routes.diaries import DiaryIn  # noqa: E402  (the bare endpoint parses the same body)

KEY = "bench-key-0123456789abcdef"
BODY = {"text": "꿈에서 나는 바다 위를 날았다. Then I landed in a garden full of lanterns.", "user": "bench"}


def serve(kind: str, port: int) -> None:
    """Child process: serve one app on 127.0.0.1:port until killed."""
    import uvicorn
    from fastapi import FastAPI

    if kind == "bare":
        app = FastAPI()

        @app.post("/v1/diaries", status_code=202)
        def submit(diary: DiaryIn) -> dict[str, object]:
            return {"job_id": 1, "status": "received", "links": {}}

    else:
        from api.app import create_app
        from dreamreel.settings import load_settings
        from dreamreel.wiring import build_service

        class ParkedRunner:
            def submit(self, job_id: int) -> None:
                pass

            def close(self) -> None:
                pass

        settings = load_settings()
        service = build_service(settings, background=True)
        service.runner = ParkedRunner()
        app = create_app(service, settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(url: str, clients: int, seconds: float) -> dict[str, float]:
    """`clients` concurrent loops posting diaries for `seconds`; returns rate and latencies."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=30, headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        for _ in range(20):  # warm up
            await client.post("/v1/diaries", json=BODY)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/v1/diaries", json=BODY)
                if response.status_code == 202:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies) or [0.0]
    return {
        "rps": len(latencies) / elapsed,
        "ok": len(latencies),
        "errors": errors,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1 if len(ordered) > 1 else 0] * 1000,
    }


def measure(kind: str, clients: int, seconds: float, home: Path) -> dict[str, float]:
    import psutil

    port = free_port()
    env = dict(
        os.environ,
        DREAMREEL_HOME=str(home / kind),
        DREAMREEL_API_KEYS=KEY,
        DREAMREEL_API_JOBS_PER_HOUR=str(10**9),  # the limit is not what this measures
        DREAMREEL_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError(f"the {kind} server did not start") from None
                time.sleep(0.2)
        result = asyncio.run(load(url, clients, seconds))
        result["rss_mb"] = psutil.Process(child.pid).memory_info().rss / 2**20
        return result
    finally:
        child.terminate()
        child.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--serve", choices=["bare", "dreamreel"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            kind: measure(kind, args.clients, args.seconds, Path(tmp)) for kind in ("bare", "dreamreel")
        }
    print(
        f"POST /v1/diaries, {args.clients} concurrent clients, {args.seconds:g} s each, cpus={os.cpu_count()}"
    )
    for kind, r in results.items():
        label = "bare FastAPI endpoint" if kind == "bare" else "DreamReel (SQLite, runner parked)"
        print(
            f"  {label:36s} {r['rps']:8.1f} req/s  ok={r['ok']:.0f} errors={r['errors']:.0f} "
            f"p50={r['p50_ms']:.1f} ms p99={r['p99_ms']:.1f} ms rss={r['rss_mb']:.0f} MB"
        )
    ratio = results["dreamreel"]["rps"] / results["bare"]["rps"] if results["bare"]["rps"] else 0.0
    print(f"  ratio DreamReel / bare: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
