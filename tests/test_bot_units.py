"""Pieces of the bot below a whole conversation: texts, settings, status lines, the throttle of
status edits, the webhook's secret-token check, and that the bot process never imports torch."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import string
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_bot, build_dispatcher, build_webhook_app, run_bot
from bot.delivery import Delivery
from bot.progress import ProgressTracker, RecentIds, status_text
from bot.sender import ChatSender
from bot.texts import EN, KO, t
from dreamreel.settings import load_settings
from dreamreel.views import EventView
from dreamreel.wiring import build_service
from tests.fakes.telegram_server import FakeTelegramServer
from tests.helpers import FAST_PREVIEW, REPO, fast_env


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_exists_in_korean_and_english_with_the_same_placeholders() -> None:
    assert set(EN) == set(KO)
    for key in EN:
        assert _fields(EN[key]) == _fields(KO[key]), key
        assert KO[key] != "" and EN[key] != ""


def test_flat_telegram_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMREEL_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("DREAMREEL_TELEGRAM_API_BASE", "http://127.0.0.1:8081")
    monkeypatch.setenv("DREAMREEL_MODERATOR_IDS", "5, 6,7")
    monkeypatch.setenv("DREAMREEL_MODERATOR_CHAT_ID", "-1001234")
    settings = load_settings()
    assert settings.telegram_token is not None and settings.telegram_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings)
    assert settings.telegram_api_base == "http://127.0.0.1:8081"
    assert settings.moderator_ids == [5, 6, 7]
    assert settings.moderator_chat_id == -1001234
    monkeypatch.setenv("DREAMREEL_MODERATOR_IDS", "5")
    assert load_settings().moderator_ids == [5]


def _event(state: str, kind: str = "progress", progress: float | None = None, **data: object) -> EventView:
    return EventView(id=1, job_id=1, kind=kind, state=state, progress=progress, message="", data=dict(data),
                     created_at=datetime.now(UTC))


def test_status_lines_follow_the_stages() -> None:
    assert status_text("en", _event("received", progress=0.1)) == t("en", "stage_planning")
    assert status_text("ko", _event("rendering", progress=0.5, scene=1, scenes=3)) == "🎬 장면 2/3 그리는 중… 50%"
    assert status_text("en", _event("rendering", kind="state")) is None  # no scene yet: keep what is shown
    assert status_text("en", _event("stitching", kind="state")) == t("en", "stage_stitching")


@contextlib.asynccontextmanager
async def _tracker(min_interval: float) -> AsyncIterator[tuple[FakeTelegramServer, Delivery, ProgressTracker]]:
    """A fake Telegram server, a background service, a bound Delivery and a started ProgressTracker."""
    server = FakeTelegramServer()
    settings = load_settings(telegram_token=server.token, telegram_api_base=await server.start())
    service = build_service(settings, background=True)
    bot = build_bot(settings)
    delivery = Delivery(service, settings, ChatSender(service))
    delivery.bind(bot)
    tracker = ProgressTracker(service, delivery, min_interval=min_interval)
    tracker.start()
    try:
        yield server, delivery, tracker
    finally:
        await tracker.stop()
        await bot.session.close()
        await asyncio.to_thread(service.close)
        await server.stop()


async def test_bursts_of_progress_become_at_most_one_edit_per_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events published from another thread reach the loop; edits are coalesced and throttled."""
    fast_env(monkeypatch)
    async with _tracker(min_interval=1.0) as (server, delivery, tracker):
        status = await delivery.send_text(42, "📝")
        assert status is not None
        async with tracker.lock:
            tracker.watch(7, 42, "en", status.message_id)

        def worker() -> None:  # what the service's worker thread does: call subscribers
            for i in range(40):
                tracker._on_event(_event("rendering", progress=i / 40, scene=i // 20, scenes=2).model_copy(
                    update={"job_id": 7, "id": i}))
                time.sleep(0.025)

        started = time.monotonic()
        thread = threading.Thread(target=worker)
        thread.start()
        await asyncio.to_thread(thread.join)
        final = t("en", "stage_rendering", scene=2, scenes=2, percent=98)
        await server.wait_for(lambda: server.messages[(42, status.message_id)]["text"] == final, what="latest")
        edits = server.calls_to("editMessageText", 42, ok=True)
        elapsed = time.monotonic() - started
        assert len(edits) <= int(elapsed) + 2, (len(edits), elapsed)  # 40 events, about one edit a second
        assert all(b.at - a.at >= 0.95 for a, b in itertools.pairwise(edits))


async def test_chat_clocks_are_dropped_once_their_watches_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running bot does not keep a throttle clock for every chat it ever reported to."""
    fast_env(monkeypatch)
    async with _tracker(min_interval=0.05) as (server, _delivery, tracker):
        chats = range(500, 530)
        for n, chat in enumerate(chats):
            async with tracker.lock:
                tracker.watch(n + 1, chat, "en", None)
            await tracker._route(_event("rendering", progress=0.5, scene=0, scenes=1).model_copy(
                update={"job_id": n + 1, "id": n + 1}))
            await server.wait_for(functools.partial(server.calls_to, "sendMessage", chat, ok=True), what="status")
            assert chat in tracker._clocks  # in use: kept, so the throttle holds
            tracker.unwatch(n + 1)
        assert len(tracker._clocks) < len(chats)  # older ones went as later watches ended
        await asyncio.sleep(0.06)
        async with tracker.lock:
            tracker.watch(99, 999, "en", None)
        tracker.unwatch(99)
        assert tracker._clocks == {}
        assert tracker._watches == {}


def test_recent_ids_keep_only_the_latest() -> None:
    carded = RecentIds(limit=3)
    for job_id in range(1, 6):
        carded.add(job_id)
    assert len(carded) == 3 and 1 not in carded and 2 not in carded and all(i in carded for i in (3, 4, 5))
    carded.add(3)  # re-adding refreshes: 4 is now the oldest
    carded.add(6)
    assert 4 not in carded and 3 in carded and 6 in carded
    carded.discard(3)
    carded.discard(42)
    assert len(carded) == 2 and 3 not in carded


async def test_webhook_checks_the_secret_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)
    server = FakeTelegramServer()
    settings = load_settings(telegram_token=server.token, telegram_api_base=await server.start(),
                             telegram_webhook_secret="s3cret-token-for-tests")
    service = build_service(settings, background=True)
    app, secret = build_webhook_app(service, settings, "https://bot.example/tg/hook")
    assert secret == "s3cret-token-for-tests"
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        set_hook = server.calls_to("setWebhook")
        assert set_hook and set_hook[0].params["secret_token"] == secret
        assert set_hook[0].params["url"] == "https://bot.example/tg/hook"
        update = {"update_id": 1, "message": {
            "message_id": 1, "date": int(time.time()), "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            "chat": {"id": 55, "type": "private", "first_name": "W"},
            "from": {"id": 55, "is_bot": False, "first_name": "W", "language_code": "en"}}}
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, data=json.dumps(update), headers=headers) as resp:
                    assert resp.status == 401
            assert not server.calls_to("sendMessage")
            async with http.post(url, data=json.dumps(update),
                                 headers={"X-Telegram-Bot-Api-Secret-Token": secret,
                                          "Content-Type": "application/json"}) as resp:
                assert resp.status == 200
        await server.wait_for(lambda: server.calls_to("sendMessage", 55, ok=True), what="reply via webhook")
    finally:
        await runner.cleanup()
        await asyncio.to_thread(service.close)
        await server.stop()


def test_run_bot_without_a_token_exits_2() -> None:
    assert run_bot(load_settings()) == 2


def test_build_dispatcher_needs_no_bot_and_injects_dependencies_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)
    settings = load_settings()
    service = build_service(settings)
    try:
        dp = build_dispatcher(service, settings)
        assert dp["service"] is service and dp["settings"] is settings
        assert isinstance(dp["tracker"], ProgressTracker) and isinstance(dp["delivery"], Delivery)
    finally:
        service.close()


def test_the_bot_process_never_imports_torch(tmp_path: Path) -> None:
    """Build the service, the bot and the dispatcher in a fresh process; torch must stay out."""
    code = (
        "import sys, asyncio\n"
        "from dreamreel.settings import load_settings\n"
        "from dreamreel.wiring import build_service\n"
        "from bot.app import build_bot, build_dispatcher\n"
        "settings = load_settings(telegram_token='1:x', telegram_api_base='http://127.0.0.1:9')\n"
        "service = build_service(settings, background=True)\n"
        "dp = build_dispatcher(service, settings)\n"
        "bot = build_bot(settings)\n"
        "job = service.submit_diary('I dreamt of a quiet harbour at dawn.', channel='telegram', user='1')\n"
        "service.wait(job.job_id, 60)\n"
        "asyncio.run(bot.session.close())\n"
        "service.close()\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'detoxify') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    env = {**os.environ, **FAST_PREVIEW, "DREAMREEL_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=180,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "HEAVY=\n" in result.stdout.decode(), result.stdout.decode()


def test_bot_imports_only_the_dreamreel_facade() -> None:
    """bot/ talks to DreamReel through `dreamreel` only: never agent/, generation/, storage/ or torch."""
    import ast

    forbidden = ("agent", "generation", "storage", "torch", "diffusers", "transformers")
    offenders = []
    for path in sorted((REPO / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []
