"""Terminal rendering of answers, shared by `ask` and `chat`."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bot.cli.console import console
from rag.records import Answer


def print_sources(answer: Answer) -> None:
    if answer.citations:
        console.print("\n[bold]Sources[/bold]")
        for citation in answer.citations:
            link = f" [dim]{citation.url}[/dim]" if citation.url else ""
            console.print(f"[{citation.n}] [bold]{escape(citation.title)}[/bold]{link}")
            console.print(f"    [italic]\u201c{escape(citation.evidence)}\u201d[/italic]")
    elif answer.suggestions:
        console.print("\n[bold]You might look at[/bold]")
        for suggestion in answer.suggestions:
            console.print(f"  - {escape(suggestion.title)}" + (f" [dim]{suggestion.url}[/dim]" if suggestion.url else ""))


def print_paper_list(answer: Answer) -> None:
    """A "find papers" answer as a table: number, title (and link), date, one-liner."""
    lines = answer.answer.splitlines()
    console.print(f"[bold]{escape(lines[0])}[/bold]")
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("paper", ratio=2)
    table.add_column("date", no_wrap=True)
    table.add_column("in one line", ratio=3)
    for n, paper in enumerate(answer.papers, 1):
        title = escape(paper.title) + (f"\n[dim]{paper.url}[/dim]" if paper.url else "")
        table.add_row(str(n), title, paper.date.isoformat() if paper.date else "", escape(paper.summary))
    console.print(table)
    for line in lines[1:]:
        if not line.startswith("["):
            console.print(escape(line), highlight=False)


def print_answer(answer: Answer, streamed: bool) -> None:
    """Print the final answer (unless it was streamed already), then its sources."""
    if answer.notice:
        console.print(f"[yellow]{escape(answer.notice)}[/yellow]")
    if answer.papers:
        print_paper_list(answer)
        return
    if not streamed or not answer.found:
        console.print(escape(answer.answer), highlight=False)
    else:
        # The stream showed the model's words; the checked answer may add [n] markers.
        console.print(f"\n[dim]checked answer:[/dim] {escape(answer.answer)}", highlight=False)
    print_sources(answer)
