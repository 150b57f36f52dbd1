"""`paperbot digest [--since ISO] [--post] [--force] [--json]`: the papers new since the
last posted digest, with themes and one-liners. Prints to the terminal; `--post` posts to
digest.channel (SLACK_BOT_TOKEN, PAPERBOT_SLACK__API_BASE_URL, PAPERBOT_DIGEST__CHANNEL),
at most once a day. `paperbot digest --reset-learning` makes the ranking forget the 👍
recorded so far."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text

from bot.cli.console import console, errors, print_json, progress_bar
from rag.digest.build import build_digest, reset_learning
from rag.digest.oneliners import INTERACTIVE_SECONDS, MODEL_ONELINERS_PER_RUN
from rag.digest.records import Digest
from rag.service import Paperbot


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("digest", parents=[common], help="summarise the papers new since the last posted digest")
    parser.add_argument("--since", default=None, help="ISO date or time to start from instead of the last posted digest (naive: digest.timezone)")
    parser.add_argument("--post", action="store_true", help="post to digest.channel in Slack (once a day)")
    parser.add_argument("--force", action="store_true", help="with --post: post even if today's digest is posted already")
    parser.add_argument("--json", action="store_true", help="print the digest as JSON")
    parser.add_argument(
        "--model-lines", type=int, default=MODEL_ONELINERS_PER_RUN, metavar="N",
        help=f"generate at most N model one-liners now (default {MODEL_ONELINERS_PER_RUN}); the rest show an abstract sentence until a later run",
    )
    parser.add_argument(
        "--model-seconds", type=float, default=None, metavar="S",
        help=f"stop generating one-liners after S seconds (default {INTERACTIVE_SECONDS} in the terminal, no limit with --post)",
    )
    parser.add_argument(
        "--reset-learning", action="store_true",
        help="forget the 👍 recorded so far: 'For you' stops showing papers similar to them (the votes stay for stats)",
    )
    parser.set_defaults(func=run)


def parse_since(value: str | None, timezone: str) -> datetime | None:
    """'2024-03-12' or '2024-03-12T09:00[+01:00]'; without an offset it is digest.timezone time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO date or time (e.g. 2024-03-12 or 2024-03-12T09:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


def _print_paper(paper, with_reason: bool = False) -> None:
    line = Text("  • ")
    line.append(paper.title, style="bold")
    if paper.url:
        line.append(f"  {paper.url}", style="dim")
    console.print(line)
    console.print(Text(f"    {paper.tldr}"))
    if with_reason and paper.reason:
        console.print(Text(f"    ({paper.reason})", style="green"))


def print_digest(digest: Digest, tz: ZoneInfo) -> None:
    """The digest in the terminal: highlights, 'For you' (when digest.interests is set),
    then the other papers theme by theme. Paper text is printed as plain Text, never as
    markup."""
    day = digest.until.astimezone(tz).strftime("%a %d %b %Y")
    since = "everything so far" if digest.since is None else "since " + digest.since.astimezone(tz).strftime("%a %d %b %H:%M")
    mine = f" · {len(digest.for_you)} for you" if digest.for_you else ""
    console.print(Text(f"Paper digest · {day}", style="bold"))
    console.print(Text(f"{len(digest.papers)} new papers in {len(digest.themes)} themes{mine} · {since}", style="dim"))
    if digest.empty:
        console.print("Nothing new. Add papers with `paperbot fetch` or `paperbot ingest PATH`.")
        return
    console.print()
    console.print(Text(digest.highlights))
    if digest.for_you:
        console.print()
        console.print(Text(f"For you ({len(digest.for_you)})", style="bold green"))
        for paper in digest.for_you_papers():
            _print_paper(paper, with_reason=True)
    for label, papers in digest.listed_themes():
        console.print()
        console.print(Text(f"{label} ({len(papers)})", style="bold cyan"))
        for paper in papers:
            _print_paper(paper)


def _print_stats(digest: Digest) -> None:
    stats = digest.stats
    if stats.pending:
        errors.print(
            f"{stats.pending} papers show an abstract sentence for now (over this run's budget of model one-liners); "
            "the next run writes more (--model-lines N, --model-seconds S).", highlight=False,
        )
    if stats.model_error:
        errors.print(f"[yellow]warning[/yellow] no model one-liners: {stats.model_error}", highlight=False)
    if stats.liked_papers:
        errors.print(
            f"'For you' learns from 👍 on answers citing {stats.liked_papers} paper{'s' if stats.liked_papers != 1 else ''}; "
            "`paperbot digest --reset-learning` forgets them.", highlight=False,
        )


def run(args, settings) -> int:
    if args.reset_learning:
        _, forgotten = reset_learning(settings.home)
        errors.print(
            f"paperbot: learning reset; the digest no longer ranks by the {forgotten} liked paper{'s' if forgotten != 1 else ''} "
            "recorded so far (new 👍 count from now on).", highlight=False,
        )
        return 0
    bot = Paperbot(settings)
    tz = ZoneInfo(settings.digest.timezone)
    since = parse_since(args.since, settings.digest.timezone)
    with progress_bar("one-liners", enabled=not args.json) as progress:
        if args.post:
            from bot.slack.digest_post import post_digest
            from bot.slack.web import web_client

            result = post_digest(
                bot, web_client(settings), force=args.force, since=since, model_budget=args.model_lines,
                time_budget_s=args.model_seconds, progress=progress,
            )
            digest = result.digest
        else:
            seconds = INTERACTIVE_SECONDS if args.model_seconds is None else args.model_seconds
            digest = build_digest(bot, since=since, model_budget=args.model_lines, time_budget_s=seconds, progress=progress)
    if args.json:
        print_json(digest.contract())
    elif not args.post:
        print_digest(digest, tz)
    _print_stats(digest)
    if args.post:
        errors.print(f"paperbot: {result.message}", highlight=False)
    return 0
