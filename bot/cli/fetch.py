"""`paperbot fetch [--date YYYY-MM-DD] [--json]`: ingest a day's papers from the HF
daily_papers API and the arXiv query in the settings."""

from __future__ import annotations

from datetime import date

from bot.cli.console import console, errors, print_json, progress_bar
from rag.sources.daily import fetch_papers, offline_message
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("fetch", parents=[common], help="ingest a day's papers from Hugging Face daily papers and arXiv")
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="day to fetch, YYYY-MM-DD (default: digest.date, else today)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    with progress_bar("embedding", enabled=not args.json) as progress:
        report = fetch_papers(Paperbot(settings), args.date, progress=progress)
    if args.json:
        print_json(report.contract())
    else:
        console.print(
            f"{report.day}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged "
            f"from {len(report.urls)} source{'s' if len(report.urls) != 1 else ''}"
        )
    if report.offline:
        errors.print(f"paperbot: {offline_message(report)}", highlight=False)
        return 1
    for error in report.errors:
        where = f"{error.source}:{error.line}" if error.line else error.source
        errors.print(f"[yellow]warning[/yellow] {where}: {error.message}", highlight=False)
    return 0
