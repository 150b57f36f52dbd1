"""`paperbot` command line. Each subcommand lives in bot/cli/<name>.py."""

from __future__ import annotations

import argparse
import sys

from bot.cli import ask, chat, digest, eval, fetch, ingest, search, serve, stats
from rag.settings import load_settings

COMMANDS = [ingest, search, ask, chat, eval, stats, fetch, digest, serve]


def build_parser() -> argparse.ArgumentParser:
    # Global options work before or after the subcommand (`paperbot --home D ask ...`
    # and `paperbot ask ... --home D`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="data directory (default: $PAPERBOT_HOME or a per-user dir)")
    common.add_argument("--config", default=argparse.SUPPRESS, help="settings TOML file, or a preset name from config/")
    parser = argparse.ArgumentParser(prog="paperbot", description=__doc__.splitlines()[0], parents=[common])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(getattr(args, "config", None), home=getattr(args, "home", None))
    except Exception as error:  # a bad settings file or env var: say which key, then stop
        print(f"paperbot: invalid settings: {error}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings) or 0
    except (ValueError, OSError, RuntimeError) as error:  # bad input, missing model, unreachable server
        print(f"paperbot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

