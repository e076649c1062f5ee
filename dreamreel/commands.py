"""Subcommands owned by channels and backends, registered here so `cli.py` stays small.

Each registrar adds a subparser whose `func(args, settings) -> int` imports its module lazily:
`dreamreel bot` must not pay for diffusers, and `dreamreel dream` must not pay for aiogram.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Registrar = Callable[[Any], None]
REGISTRARS: list[Registrar] = []


def registrar(fn: Registrar) -> Registrar:
    REGISTRARS.append(fn)
    return fn


@registrar
def _bot(sub: Any) -> None:
    p = sub.add_parser("bot", help="run the Telegram bot (long polling, or --webhook URL)")
    p.add_argument("--webhook", help="public HTTPS URL for webhook mode")

    def run(args: argparse.Namespace, settings: Any) -> int:
        from bot.app import run_bot

        return int(run_bot(settings, webhook_url=args.webhook))

    p.set_defaults(func=run)


@registrar
def _api(sub: Any) -> None:
    p = sub.add_parser("api", help="serve the web hook API and the moderator page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    def run(args: argparse.Namespace, settings: Any) -> int:
        from api.app import run_api

        return int(run_api(settings, args.host, args.port))

    p.set_defaults(func=run)


@registrar
def _analyze(sub: Any) -> None:
    p = sub.add_parser("analyze", help="language, emotion and safety verdict of texts (JSON lines in, JSON lines out)")
    p.add_argument("--file", help='JSON lines {"text": ...} to read (default: standard input)')
    p.add_argument("--json", action="store_true", help="JSON lines out (the only format; accepted for symmetry)")

    def run(args: argparse.Namespace, settings: Any) -> int:
        import sys

        from dreamreel.analyze import DiaryAnalyzer, run_analyze
        from dreamreel.errors import InputError

        analyzer = DiaryAnalyzer.from_settings(settings)
        if not args.file:
            run_analyze(analyzer, sys.stdin, sys.stdout)
            return 0
        try:
            with open(args.file, encoding="utf-8") as source:
                run_analyze(analyzer, source, sys.stdout)
        except OSError as e:
            raise InputError(f"cannot read {args.file}: {e.strerror}") from e
        return 0

    p.set_defaults(func=run)


@registrar
def _models(sub: Any) -> None:
    p = sub.add_parser("models", help="video presets: `models list`, `models download PRESET`")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="list | download PRESET")

    def run(args: argparse.Namespace, settings: Any) -> int:
        from generation.models_cli import models_main

        return int(models_main(args.rest or ["list"], settings.presets, settings.loras))

    p.set_defaults(func=run)


@registrar
def _worker(sub: Any) -> None:
    # No options of its own ("+" prefix): every argument, `-Q` and `--help` too, goes to `celery worker`
    # (with "-" prefixes argparse takes a leading `-Q` for an unknown option of ours and exits 2).
    p = sub.add_parser("worker", help="run a Celery worker (runner = celery), e.g. `worker -Q dreamreel.gpu`",
                       prefix_chars="+", add_help=False)
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="arguments passed to `celery worker`")

    def run(args: argparse.Namespace, settings: Any) -> int:
        from dreamreel.runners.celery_app import make_celery_app

        app = make_celery_app(settings)
        app.worker_main(["worker", "--loglevel=INFO", *(args.celery_args or [])])
        return 0

    p.set_defaults(func=run)


@registrar
def _lora(sub: Any) -> None:
    p = sub.add_parser("lora", help="emotion LoRAs: `lora prepare SRC`, `lora train`, `lora eval`",
                       prefix_chars="+", add_help=False)  # every argument, --help too, goes to `lora`
    p.add_argument("rest", nargs=argparse.REMAINDER, help="prepare | train | eval (see `lora --help`)")

    def run(args: argparse.Namespace, settings: Any) -> int:
        from generation.training.cli import lora_main

        return int(lora_main(args.rest or ["--help"], settings.presets))

    p.set_defaults(func=run)
