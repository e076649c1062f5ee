"""The `dreamreel` command line as a user runs it: real processes, real database, real ffmpeg."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import FAST_PREVIEW, REPO, cli_json, run_cli

KO = "시험장에 들어갔는데 문제지가 전부 백지였다. 시계 바늘이 거꾸로 돌기 시작했고 교실 창문 밖으로 벚꽃이 눈처럼 쏟아졌다. 친구가 웃으면서 이미 끝났다고 말했다."


def _cases(repo_data: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in (repo_data / "dream_cases.jsonl").read_text().splitlines() if line]


def test_dream_cases_reach_their_expected_decisions(repo_data: Path) -> None:
    wrong = []
    for case in _cases(repo_data):
        code, out = cli_json("dream", "--dry-run", case["text"], env=FAST_PREVIEW)
        decision = out["verdict"]["decision"]
        if decision != case["expect"] or code != 0:  # a dry run exits 0 whatever the verdict
            wrong.append((case["id"], case["expect"], decision, code))
        assert out["status"] == "planned"
        assert out["segments"] and all(s["prompt"] for s in out["segments"])
    assert wrong == []


def test_dream_json_contract_and_exit_codes(tmp_path: Path) -> None:
    out_file = tmp_path / "out" / "my-dream.mp4"
    code, out = cli_json("dream", KO, "--segments", "3", "--out", str(out_file), env=FAST_PREVIEW)
    assert code == 0, out
    assert set(out) >= {"job_id", "status", "language", "emotion", "video", "clips", "segments", "verdict"}
    assert out["status"] == "done" and out["language"] == "ko"
    assert out["video"] == str(out_file.resolve()) and out_file.stat().st_size > 1000
    assert len(out["clips"]) == 3 and all(Path(c).is_file() for c in out["clips"])
    seg = out["segments"][0]
    assert set(seg) >= {"index", "text", "prompt", "keywords", "emotion", "style", "seed", "clip", "lora", "preset"}
    assert out["verdict"]["decision"] == "allow" and out["verdict"]["support_message"] is False
    # weak classifier signals may be listed, but nothing a rule would refuse
    assert {r["category"] for r in out["verdict"]["reasons"]} <= {"toxicity", "profanity"}

    code, shown = cli_json("jobs", "show", str(out["job_id"]))
    assert code == 0
    assert shown["diary"] == KO
    assert [e["state"] for e in shown["events"] if e["kind"] == "state"][-1] == "done"
    code, listed = cli_json("jobs", "list")
    assert [j["job_id"] for j in listed] == [out["job_id"]]


def test_refused_dream_exits_3_waits_in_queue_and_approve_makes_the_video() -> None:
    text = "꿈에서 나는 칼로 룸메이트를 여러 번 찔러 살해했다. 바닥에 피가 흥건했고 나는 시체를 숨기려고 했다."
    proc = run_cli("dream", text, env=FAST_PREVIEW)
    assert proc.returncode == 3
    assert "moderator" in proc.stderr.decode()
    code, queue = cli_json("moderation", "list")
    assert len(queue) == 1 and queue[0]["diary"] == text
    assert {r["category"] for r in queue[0]["reasons"]} & {"gore", "violence"}
    job_id = str(queue[0]["job_id"])

    code, approved = cli_json("moderation", "approve", job_id, "--note", "a dream, not a plan", env=FAST_PREVIEW)
    assert code == 0 and approved["status"] == "done" and Path(approved["video"]).is_file()
    code, queue = cli_json("moderation", "list")
    assert queue == []

    proc = run_cli("moderation", "reject", job_id, "--note", "too late")
    assert proc.returncode == 1 and "not waiting for a moderator" in proc.stderr.decode()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["dream", ""], None, "empty"),
        (["dream", "--segments", "9", "a dream about a cat"], None, "between 1 and 6"),
        (["dream", "--segments", "0", "a dream about a cat"], None, "between 1 and 6"),
        (["dream"], b"\x00\x01\x02\xff\xfe binary", "UTF-8"),
        (["dream", "--file", "/nonexistent/diary.txt"], None, "no such file"),
        (["dream", "x" * 100_000], None, "too long"),
        (["dream", "Мне снилось, что я летаю над городом."], None, "Korean and English"),
        (["jobs", "show", "12345"], None, "Not found"),
    ],
)
def test_bad_input_exits_with_a_clear_message(args: list[str], stdin: bytes | None, message: str) -> None:
    proc = run_cli(*args, input=stdin, env=FAST_PREVIEW)
    assert proc.returncode in (1, 2)
    assert message.lower() in proc.stderr.decode().lower()
    assert "Traceback" not in proc.stderr.decode()
    _code, listed = cli_json("jobs", "list")
    assert listed == []


def test_worker_passes_every_argument_to_celery() -> None:
    """`dreamreel worker -Q dreamreel.gpu` as documented: `-Q` (and `--help`) reach `celery worker`."""
    proc = run_cli("worker", "-Q", "dreamreel.gpu", "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "--queues" in proc.stdout.decode()  # celery's own help, not ours


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    proc = run_cli("db", "upgrade")
    assert proc.returncode == 0, proc.stderr.decode()
    db = Path(os.environ["DREAMREEL_HOME"]) / "dreamreel.db"
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
    assert {"users", "diaries", "jobs", "segments", "clips", "videos", "reviews", "events"} <= tables


def test_killed_mid_render_resumes_without_rerendering_finished_clips(tmp_path: Path) -> None:
    """A real SIGKILL while scene 2 renders; `jobs run` finishes the job and keeps scene 1's clip."""
    env = {
        **os.environ,
        "DREAMREEL_PREVIEW__WIDTH": "320",
        "DREAMREEL_PREVIEW__HEIGHT": "180",
        "DREAMREEL_PREVIEW__FPS": "12",
        "DREAMREEL_PREVIEW__SECONDS_PER_SCENE": "4",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dreamreel.cli", "dream", KO, "--segments", "3", "-q"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    db_path = Path(os.environ["DREAMREEL_HOME"]) / "dreamreel.db"
    deadline = time.monotonic() + 180
    clips: list[tuple[int, str]] = []
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db_path.exists():
                try:
                    clips = sqlite3.connect(db_path).execute("select segment_index, path from clips").fetchall()
                except sqlite3.OperationalError:
                    clips = []
                if clips:
                    break
            time.sleep(0.05)
        assert clips, "no clip was rendered before the deadline"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    con = sqlite3.connect(db_path)
    job_id, state = con.execute("select id, state from jobs").fetchone()
    assert state == "rendering"  # the kill left it mid-render
    media = Path(os.environ["DREAMREEL_HOME"]) / "media"
    first = media / clips[0][1]
    before = first.stat().st_mtime_ns
    n_before = con.execute("select count(*) from clips").fetchone()[0]
    assert n_before < 3
    con.close()

    code, out = cli_json("jobs", "run", str(job_id), env=env)
    assert code == 0 and out["status"] == "done", out
    assert first.stat().st_mtime_ns == before  # scene 1 was not rendered again
    assert len(out["clips"]) == 3
    leftovers = [p for p in media.rglob("*") if ".tmp" in p.name]
    assert leftovers == []  # the killed render's temp file is gone or was never renamed into place
    con = sqlite3.connect(db_path)
    rendered = [
        r[0] for r in con.execute("select message from events where kind='progress' and progress=1.0 order by id")
    ]
    assert len(rendered) == 3  # each scene finished exactly once


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["dream", "--crossfade", "-1", "a dream about a cat"], {}, "--crossfade must be between 0 and 2"),
        (["dream", "a dream about a cat"], {"DREAMREEL_DEFAULT_SEGMENTS": "9"}, "DREAMREEL_DEFAULT_SEGMENTS"),
        (["dream", "a dream about a cat"], {"DREAMREEL_CONFIG": "/nonexistent/dreamreel.toml"}, "DREAMREEL_CONFIG"),
        (["jobs", "list"], {"DREAMREEL_ENVIRONMENT": "production"}, "DREAMREEL_WEBHOOK_SECRET"),
        (["dream", "--segments", "many", "a dream about a cat"], {}, "invalid int value"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line_and_json_when_asked(
    args: list[str], env: dict[str, str], message: str
) -> None:
    proc = run_cli(*args, env={**FAST_PREVIEW, **env})
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    problem = [line for line in stderr.splitlines() if line.startswith("dreamreel: ")]
    assert len(problem) == 1 and message in problem[0], stderr

    as_json = run_cli(*args, "--json", env={**FAST_PREVIEW, **env})
    assert as_json.returncode == 2
    error = json.loads(as_json.stdout.decode())["error"]
    assert error["code"] == "usage" and message in error["message"]


def test_json_refusals_of_the_diary_are_json_too() -> None:
    code, out = cli_json("dream", "Мне снилось, что я летаю над городом.", env=FAST_PREVIEW)
    assert code == 2 and out["error"]["code"] == "invalid_input"
    assert "Korean and English" in out["error"]["message"]


def test_a_diary_of_exactly_the_limit_with_a_trailing_newline_is_taken(tmp_path: Path) -> None:
    sentence = "I dreamt of a cat on a roof. "
    diary = (sentence * 10)[:199].rstrip()
    diary += "." * (200 - len(diary))  # exactly 200 characters
    assert len(diary) == 200
    path = tmp_path / "diary.txt"
    path.write_text(diary + "\n", encoding="utf-8")  # as editors save it
    env = {**FAST_PREVIEW, "DREAMREEL_MAX_DIARY_CHARS": "200"}
    code, out = cli_json("dream", "--dry-run", "--file", str(path), env=env)
    assert code == 0 and out["status"] == "planned", out
    path.write_text(diary + "y\n", encoding="utf-8")
    code, out = cli_json("dream", "--dry-run", "--file", str(path), env=env)
    assert code == 2 and "too long" in out["error"]["message"]


def test_a_weak_self_harm_reason_brings_no_support_message() -> None:
    # found when the meaning heads landed: a murder dream carried a 0.42 self-harm reason from
    # the sentence encoder, and the job view offered the self-harm support message for it
    gore = "꿈에서 나는 칼로 룸메이트를 여러 번 찔러 살해했다. 바닥에 피가 흥건했고 나는 시체를 숨기려고 했다."
    code, out = cli_json("dream", "--dry-run", gore)
    assert code == 0 and out["verdict"]["decision"] == "block"  # a dry run ends after the verdict
    weak = [r for r in out["verdict"]["reasons"] if r["category"] == "self_harm"]
    assert all(r["score"] < 0.5 for r in weak)
    assert out["verdict"]["support_message"] is False
