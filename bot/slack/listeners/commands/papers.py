"""/papers ask <question> | digest | stats | help. `/papers <question>` asks too."""

from bot.slack import render


def papers_callback(ack, command, respond, context):
    services = context["services"]
    text = " ".join((command.get("text") or "").split())
    word, _, rest = text.partition(" ")
    word = word.lower()
    if not services.allowed(command.get("channel_id", "")):
        ack(text="I'm not enabled in this channel. Ask me in a direct message instead.")
    elif word in ("", "help"):
        ack(text=render.help_text(command.get("command", "/papers")))
    elif word == "stats":
        ack()
        respond(text=services.stats_text(), response_type="ephemeral")
    elif word == "digest":
        ack(text="Putting the digest together…")
        digest = services.digest_message()
        respond(text=digest.text, blocks=digest.blocks, response_type="ephemeral", replace_original=False)
    else:
        question = rest if word == "ask" else text
        if not question:
            ack(text=render.help_text(command.get("command", "/papers")))
        else:
            ack(text=services.ask_for_command(question, respond))
