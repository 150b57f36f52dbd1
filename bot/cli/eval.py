from __future__ import annotations

from pathlib import Path

from rich.table import Table

from bot.cli.console import console, print_json, progress_bar
from rag.evaluate import load_questions, run_eval, summarize, summarize_by_kind, write_results
from rag.service import Paperbot

COLUMNS = [
    "recall@1", "recall@5", "mrr", "topic_recall@10", "gold_cited", "first_citation_gold", "refusal_accuracy",
    "false_refusal_rate", "fact_recall", "kind_read_right", "two_gold_listed", "listed_precision", "both_cited",
    "help_given", "judged",
]


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("eval", parents=[common], help="measure answers on a question file (dev-set format)")
    parser.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--details", type=Path, help="also write one JSON line per question to this file")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    questions = load_questions(args.questions)
    with progress_bar("asking", enabled=not args.json) as progress:
        results = run_eval(questions, Paperbot(settings), progress)
    if args.details:
        write_results(results, args.details)
    overall, by_kind = summarize(results), summarize_by_kind(results)
    if args.json:
        print_json({"overall": overall, "by_kind": by_kind})
        return 0
    # One column per question kind, one row per metric: stays readable in 80 columns.
    summaries = [*by_kind.items(), ("all", overall)]
    table = Table("metric", *(kind for kind, _ in summaries))
    table.add_row("questions", *(str(s["questions"]) for _, s in summaries))
    for metric in COLUMNS:
        table.add_row(metric, *("-" if s[metric] is None else f"{s[metric]:.2f}" for _, s in summaries))
    for label, key in [("latency p50 ms", "p50"), ("latency p95 ms", "p95"), ("first token p50 ms", "first_token_p50")]:
        table.add_row(label, *("-" if s["latency_ms"][key] is None else f"{s['latency_ms'][key]:.0f}" for _, s in summaries))
    table.add_row("judge p50 ms", *("-" if s["judge_ms_p50"] is None else f"{s['judge_ms_p50']:.0f}" for _, s in summaries))
    console.print(table)
    return 0
