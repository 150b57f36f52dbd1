from __future__ import annotations

from rich.markup import escape

from bot.cli.console import console
from bot.cli.views import print_answer, print_sources
from rag.records import Turn
from rag.service import Paperbot

HELP = "Ask anything about the papers; follow-ups use the conversation. /sources  /reset  /help  (Ctrl-D to quit)"


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("chat", parents=[common], help="a conversation: follow-up questions use earlier turns")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    bot = Paperbot(settings)
    history: list[Turn] = []
    last = None
    console.print(HELP)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            console.print()
            return 0
        if not line:
            continue
        if line == "/help":
            console.print(HELP)
        elif line == "/reset":
            history, last = [], None
            console.print("Conversation cleared.")
        elif line == "/sources":
            print_sources(last) if last else console.print("No answer yet.")
        elif line.startswith("/"):
            console.print(f"Unknown command {escape(line)}. {HELP}")
        else:
            try:
                last = bot.ask(line, history)
            except ValueError as error:
                console.print(f"[red]{escape(str(error))}[/red]")
                continue
            print_answer(last, streamed=False)
            history.append(Turn(question=last.question, answer=last.answer, paper_ids=[c.paper_id for c in last.citations]))
