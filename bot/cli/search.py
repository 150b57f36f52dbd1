from __future__ import annotations

from rich.table import Table

from bot.cli.console import console, print_json
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("search", parents=[common], help="find the papers that best match a query")
    parser.add_argument("query")
    parser.add_argument("-k", type=int, default=None, help="number of papers (default: retrieve.k)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    hits = Paperbot(settings).search(args.query, k=args.k)
    if args.json:
        print_json([{"paper_id": h.paper_id, "title": h.title, "score": h.score, "chunk": h.chunk} for h in hits])
        return 0
    if not hits:
        console.print("No papers yet. Add some with: paperbot ingest bundled")
        return 0
    table = Table("#", "paper", "score", "best passage", show_lines=True)
    for i, hit in enumerate(hits, 1):
        table.add_row(str(i), f"{hit.title}\n[dim]{hit.paper_id}[/dim]", f"{hit.score:.4f}", hit.chunk)
    console.print(table)
    return 0
