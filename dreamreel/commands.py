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
