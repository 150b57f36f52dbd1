from __future__ import annotations

from rich.table import Table

from bot.cli.console import console, print_json
from rag.storage.feedback import feedback_counts
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("stats", parents=[common], help="what the store holds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    stats = Paperbot(settings).stats()
    stats["feedback"] = feedback_counts(settings.home)
    if args.json:
        print_json(stats)
        return 0
    table = Table("what", "value")
    for key in ("papers", "chunks", "vectors", "last_ingest"):
        table.add_row(key, str(stats[key]))
    table.add_row("feedback", f"{stats['feedback']['up']} up, {stats['feedback']['down']} down")
    for source in stats["sources"]:
        table.add_row("source", f"{source['source']} ({source['papers']} papers)")
    for key, size in stats["sizes_bytes"].items():
        if size is not None:
            table.add_row(f"size: {key}", f"{size / 1e6:.1f} MB")
    console.print(table)
    return 0
