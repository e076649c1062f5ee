"""`dreamreel` command line: the contract other checks rely on.

Exit status: 0 done (or dry run finished), 3 refused (in_review or blocked), 1 failed, 2 usage/input.
A usage or input error (bad options, settings that do not validate, a missing DREAMREEL_CONFIG
file, a refused diary) is one line on stderr, `dreamreel: <what is wrong>`, never a traceback;
with `--json` stdout also gets `{"error": {"code": "usage" | "invalid_input", "message": ...}}`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from dreamreel.errors import DreamReelError, InputError
from dreamreel.settings import Settings, load_settings
from dreamreel.views import REFUSED_STATES, EventView, JobOptions, JobView

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3

log = logging.getLogger("dreamreel")


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises `UsageError` instead of exiting, so `--json` can answer in JSON too."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def settings_problem(exc: Exception) -> str:
    """One line saying which setting is wrong, from a settings ValidationError (or a config file
    that is missing or not TOML)."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    problems = []
    for err in exc.errors():
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        where = "_".join(str(part) for part in err.get("loc", ()))
        problems.append(f"DREAMREEL_{where.upper()}: {message}" if where else message)
    return "invalid settings: " + "; ".join(problems)


def _service(settings: Settings) -> Any:
    from dreamreel.wiring import build_service

    return build_service(settings)


def _exit_for(view: JobView) -> int:
    if view.status == "done":
        return EXIT_OK
    if view.status in REFUSED_STATES or view.status == "rejected":
        return EXIT_REFUSED
    if view.status == "failed":
        return EXIT_FAILED
    return EXIT_OK  # e.g. planned after a dry run


class ProgressPrinter:
    """Shows a job's events on stderr: one rewritten line on a terminal, plain lines otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open_line = False

    def __call__(self, event: EventView) -> None:
        if event.kind == "progress" and event.progress is not None:
            text = f"[job {event.job_id}] {event.message} {event.progress:4.0%}"
            if self.tty:
                self.stream.write("\r\033[K" + text)
                self._open_line = True
                self.stream.flush()
                return
        else:
            text = f"[job {event.job_id}] {event.state or event.kind}: {event.message}"
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()


def _print_job(view: JobView, as_json: bool, *, detail: bool = False) -> None:
    if as_json:
        print(json.dumps(view.to_public(), ensure_ascii=False, indent=None))
        return
    print(f"job {view.job_id}: {view.status}  language={view.language} emotion={view.emotion}")
    if view.verdict:
        print(f"  verdict: {view.verdict.decision}")
        for r in view.verdict.reasons:
            span = f' "{r.span.text}"' if r.span else ""
            print(f"    - {r.category} {r.score:.2f}{span} ({r.source})")
    for seg in view.segments:
        print(f"  scene {seg.index + 1} [{seg.emotion}/{seg.style}, seed {seg.seed}]: {seg.text}")
        print(f"      prompt: {seg.prompt}")
        if seg.clip:
            print(f"      clip: {seg.clip}")
    if view.error:
        print(f"  error: {view.error}")
    if view.video:
        print(f"video: {view.video}")
    if detail and view.events:
        print("events:")
        for e in view.events:
            print(f"  {e.created_at:%H:%M:%S} {e.kind:8} {e.state or '':10} {e.message}")


# -- commands -----------------------------------------------------------------------------------


def cmd_dream(args: argparse.Namespace, settings: Settings) -> int:
    text: str | bytes
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
        text = path.read_bytes()
    elif args.text is not None:
        text = args.text
    elif not sys.stdin.isatty():
        text = sys.stdin.buffer.read()
    else:
        raise UsageError("give the diary as TEXT, with --file PATH, or on standard input")
    if args.segments is not None and not 1 <= args.segments <= 6:
        raise UsageError(f"--segments must be between 1 and 6, not {args.segments}")
    if args.crossfade is not None and not 0 <= args.crossfade <= 2:
        raise UsageError(f"--crossfade must be between 0 and 2 seconds, not {args.crossfade:g}")

    photo: bytes | None = None
    if args.photo:
        photo_path = Path(args.photo)
        if not photo_path.is_file():
            raise UsageError(f"no such file: {photo_path}")
        photo = photo_path.read_bytes()
    options = JobOptions(
        segments=args.segments,
        crossfade=args.crossfade,
        captions=False if args.no_captions else None,
        narration=False if args.no_narration else None,
        continuity=args.continuity,
    )
    service = _service(settings)
    unsubscribe: Callable[[], None] | None = None
    if not args.quiet:
        unsubscribe = service.subscribe(ProgressPrinter())
    try:
        job = service.submit_diary(text, channel="cli", user=args.user, options=options, run=False, photo=photo)
        view = service.plan_job(job.job_id) if args.dry_run else service.run_job(job.job_id)
    finally:
        if unsubscribe:
            unsubscribe()
    if args.out and view.video:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(view.video, out)
        view.video = str(out.resolve())
    _print_job(view, args.json)
    if view.status in REFUSED_STATES and not args.json:
        print(
            "No video will be made: the diary is saved and waits for a moderator "
            f"(dreamreel moderation approve {view.job_id}).",
            file=sys.stderr,
        )
    return _exit_for(view)


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    if args.jobs_cmd == "list":
        views = service.list_jobs(limit=args.limit)
        if args.json:
            print(json.dumps([v.to_public() for v in views], ensure_ascii=False))
        else:
            for v in views:
                print(f"{v.job_id:>6}  {v.status:10} {v.language or '-':5} {v.emotion or '-':9} {v.video or ''}")
        return EXIT_OK
    if args.jobs_cmd == "show":
        view = service.get_job(args.id, detail=True)
        _print_job(view, args.json, detail=True)
        return EXIT_OK
    if args.jobs_cmd == "run":
        unsubscribe = service.subscribe(ProgressPrinter())
        try:
            view = service.run_job(args.id)
        finally:
            unsubscribe()
        _print_job(view, args.json)
        return _exit_for(view)
    raise UsageError("jobs: list, show ID or run ID")


def cmd_moderation(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    if args.mod_cmd == "list":
        reviews = service.moderation_queue(include_decided=args.all)
        if args.json:
            print(json.dumps([r.model_dump(mode="json") for r in reviews], ensure_ascii=False))
        else:
            if not reviews:
                print("the moderation queue is empty")
            for r in reviews:
                cats = ", ".join(sorted({x.category for x in r.reasons})) or "-"
                print(f"job {r.job_id:>6}  {r.verdict:6} {r.status:8} [{cats}]  {r.diary[:60]!r}")
        return EXIT_OK
    moderator = args.moderator
    if args.mod_cmd == "approve":
        unsubscribe = service.subscribe(ProgressPrinter())
        try:
            view = service.approve(args.id, moderator=moderator, note=args.note)
        finally:
            unsubscribe()
        _print_job(view, args.json)
        return _exit_for(view)
    if args.mod_cmd == "reject":
        view = service.reject(args.id, moderator=moderator, note=args.note)
        _print_job(view, args.json)
        return EXIT_OK
    raise UsageError("moderation: list, approve ID or reject ID --note TEXT")


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    settings.home.mkdir(parents=True, exist_ok=True)
    if args.db_cmd == "upgrade":
        migrate.upgrade(settings.db_url, args.revision)
        print(f"database at revision {migrate.current(settings.db_url)}: {_redact(settings.db_url)}")
        return EXIT_OK
    if args.db_cmd == "downgrade":
        migrate.downgrade(settings.db_url, args.revision)
        print(f"database at revision {migrate.current(settings.db_url)}")
        return EXIT_OK
    if args.db_cmd == "current":
        print(migrate.current(settings.db_url) or "empty")
        return EXIT_OK
    raise UsageError("db: upgrade, downgrade REV or current")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# -- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dreamreel", description="Turn a dream diary into a short video.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens inside")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dream = sub.add_parser("dream", help="run a diary through the whole pipeline")
    dream.add_argument("text", nargs="?", help="the diary (or use --file, or standard input)")
    dream.add_argument("--file", help="read the diary from this UTF-8 text file")
    dream.add_argument("--out", help="also copy the stitched video here")
    dream.add_argument("--segments", type=int, help="number of scenes, 1..6 (default from settings: 2)")
    dream.add_argument("--crossfade", type=float, help="seconds of crossfade between scenes")
    dream.add_argument("--no-captions", action="store_true", help="render scenes without captions")
    dream.add_argument("--no-narration", action="store_true", help="no spoken words (music and subtitles stay)")
    dream.add_argument(
        "--continuity", choices=["none", "chain", "keyframe"],
        help="none: scenes alone; chain: each scene starts from the last frame of the one before; "
        "keyframe: each starts from a key frame sharing one style seed (default from settings: none)",
    )
    dream.add_argument("--photo", help="the dreamer's photo (JPEG, PNG or WebP): the first scene starts from it")
    dream.add_argument("--dry-run", action="store_true", help="stop after planning and the safety verdict")
    dream.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    dream.add_argument("--user", default="local", help="who is dreaming (default: local)")
    dream.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    dream.set_defaults(func=cmd_dream)

    jobs = sub.add_parser("jobs", help="list, show or resume jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_cmd", metavar="list|show|run")
    jl = jobs_sub.add_parser("list")
    jl.add_argument("--json", action="store_true")
    jl.add_argument("--limit", type=int, default=50)
    js = jobs_sub.add_parser("show")
    js.add_argument("id", type=int)
    js.add_argument("--json", action="store_true")
    jr = jobs_sub.add_parser("run", help="run or resume a job (after a crash or a failure)")
    jr.add_argument("id", type=int)
    jr.add_argument("--json", action="store_true")
    jobs.set_defaults(func=cmd_jobs)

    mod = sub.add_parser("moderation", help="the queue of refused requests")
    mod_sub = mod.add_subparsers(dest="mod_cmd", metavar="list|approve|reject")
    ml = mod_sub.add_parser("list")
    ml.add_argument("--json", action="store_true")
    ml.add_argument("--all", action="store_true", help="include decided reviews")
    ma = mod_sub.add_parser("approve")
    ma.add_argument("id", type=int)
    ma.add_argument("--note")
    ma.add_argument("--json", action="store_true")
    mr = mod_sub.add_parser("reject")
    mr.add_argument("id", type=int)
    mr.add_argument("--note", required=True)
    mr.add_argument("--json", action="store_true")
    for p in (ma, mr):
        p.add_argument("--moderator", default="cli", help="who decides (recorded)")
    mod.set_defaults(func=cmd_moderation)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_cmd", metavar="upgrade|downgrade|current")
    du = db_sub.add_parser("upgrade")
    du.add_argument("revision", nargs="?", default="head")
    dd = db_sub.add_parser("downgrade")
    dd.add_argument("revision")
    db_sub.add_parser("current")
    db.set_defaults(func=cmd_db)

    for register in _plugins():
        register(sub)
    return parser


def _plugins() -> list[Callable[[Any], None]]:
    """Subcommands that live with their channel or backend (registered lazily, imported on use)."""
    from dreamreel import commands, quality_cli

    return [*commands.REGISTRARS, quality_cli.register]


def _usage_error(code: str, message: str, as_json: bool) -> int:
    print(f"dreamreel: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _usage_error("usage", str(exc), as_json)
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        settings = load_settings()
    except (ValidationError, OSError, ValueError) as exc:  # OSError: DREAMREEL_CONFIG missing/unreadable
        return _usage_error("usage", settings_problem(exc), as_json)
    try:
        return int(args.func(args, settings))
    except UsageError as exc:
        return _usage_error("usage", str(exc), as_json)
    except InputError as exc:
        return _usage_error("invalid_input", exc.user_message("en"), as_json)
    except DreamReelError as exc:
        print(f"dreamreel: {exc.user_message('en')}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("dreamreel: interrupted; the job is saved and resumes with `dreamreel jobs run ID`", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
