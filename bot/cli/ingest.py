from __future__ import annotations

from rich.table import Table

from bot.cli.console import console, errors, print_json, progress_bar
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("ingest", parents=[common], help="add papers from files, folders or URLs")
    parser.add_argument("locations", nargs="+", metavar="PATH_OR_URL", help="listing dump, HF daily_papers JSON or arXiv Atom; 'bundled' for the sample corpus")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.sources.read import bundled_corpus_dir

    locations = [str(bundled_corpus_dir()) if loc == "bundled" else loc for loc in args.locations]
    with progress_bar("embedding", enabled=not args.json) as progress:
        report = Paperbot(settings).ingest(locations, progress)
    if args.json:
        print_json(report.contract())
    else:
        table = Table("added", "updated", "unchanged", "errors")
        table.add_row(str(report.added), str(report.updated), str(report.unchanged), str(len(report.errors)))
        console.print(table)
        for error in report.errors:
            where = f"{error.source}:{error.line}" if error.line else error.source
            errors.print(f"[red]error[/red] {where}: {error.message}", highlight=False)
        if report.errors:
            errors.print("Fix the records above and run the same ingest again; good records were kept.")
    return 1 if report.errors and not (report.added or report.updated or report.unchanged) else 0
