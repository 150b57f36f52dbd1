"""CLI subcommands, one module each. A module exposes `register(subparsers, common)`,
which adds its parser and sets `func(args, settings) -> exit code`."""

from bot.commands import ask, chat, digest, eval, fetch, ingest, search, serve, stats

COMMANDS = [ingest, search, ask, chat, eval, stats, fetch, digest, serve]
