from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.cli.console import console, print_json
from bot.cli.views import print_answer
from rag.records import Turn
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("ask", parents=[common], help="answer a question from the papers, with sources")
    parser.add_argument("question")
    parser.add_argument("--history", type=Path, help='earlier turns as JSON: [{"question": ..., "answer": ...}]')
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def load_history(path: Path | None) -> list[Turn]:
    if path is None:
        return []
    try:
        turns = json.loads(path.read_text())
        return [Turn.model_validate(turn) for turn in turns]
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: history must be a JSON list of {{question, answer}} turns ({error})") from None


def run(args, settings) -> int:
    bot = Paperbot(settings)
    history = load_history(args.history)
    if args.json:
        print_json(bot.ask(args.question, history).contract())
        return 0
    streaming = console.is_terminal

    def show(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    answer = bot.ask(args.question, history, on_token=show if streaming else None)
    if streaming and answer.found:
        sys.stdout.write("\n")
    print_answer(answer, streamed=streaming)
    return 0
