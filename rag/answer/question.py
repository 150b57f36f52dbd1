"""Question: the question prepared (whitespace, length), and what kind it is, decided by
rules before anything is searched.

A team asks more than "which paper reports fact F?": it asks for papers on a topic ("any
papers on model merging?"), for what is new ("anything new on diffusion this week?"), about
a named paper ("what is GPTVQ?"), to compare two ("ADAHESSIAN vs FOSI"), for a paper's
authors, date or link ("who wrote it?"), or just says hi.
Each kind gets its own answer form (rag/answer/answerer.py). Rules, not the model: they are fast,
repeatable and readable, and the phrasings are few (see docs/calibration.md, "Question
kinds", for how they were chosen and measured).

Pure: the name index, the clock and the settings come in as arguments. Over 400 lines
because the phrasings are data: one pattern per way of asking, each with its example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from rag.answer.names import NameIndex, NameMatch, looks_like_name, named_papers, question_words
from rag.settings import QuestionSettings

Kind = Literal["help", "find", "new", "explain", "compare", "fact", "clarify", "details", "choose"]

CUT_NOTICE = "Your question was longer than {limit} characters; only the first {limit} were used."
EMPTY_QUESTION = "The question is empty: ask something about the papers."

# Greetings in other languages ("olá", "bonjour"): also a small-talk rule of their own below.
_OTHER_LANGUAGES = r"hola|ol[aá]|bonjour|salut|hallo|ciao|buongiorno|buenos d[ií]as|bom dia|hej|namaste|konnichiwa"
_GREETING = re.compile(
    r"^\W*(?:@?paperbot\W*)?(hi+|hello|hey+|hiya|heya|yo|howdy|greetings|sup|what'?s up|good (morning|afternoon|evening|day|night)|morning|gm"
    r"|thanks|thank you|thank u|thx|ty|cheers|much appreciated|appreciate it|ok|okay|k|cool|great|nice|awesome|perfect|got it"
    r"|merci(?: beaucoup)?|danke(?: sch(?:ö|oe)n| sehr)?|(?:muchas )?gracias|grazie(?: mille)?|obrigad[oa]|arigato"
    rf"|{_OTHER_LANGUAGES}"
    r"|bye|goodbye|see you|see ya|nvm|never ?mind|forget (?:it|about it)|scratch that|no worries|np|interesting|makes sense|sounds good|fair enough|noted|neat|wow)\b",
    re.IGNORECASE,
)
# A greeting in another language: what follows it is small talk too ("olá! tudo bem por aí?")
# unless it asks in English ("hallo, any papers on model merging?").
_OTHER_LANGUAGE_GREETING = re.compile(rf"^\W*(?:@?paperbot\W*)?(?:{_OTHER_LANGUAGES})\b", re.IGNORECASE)
_THANKS = re.compile(
    r"^\W*(?:@?paperbot\W*)?(?:thanks|thank you|thank u|thx|ty|cheers|much appreciated|appreciate it|merci|danke|gracias|grazie|obrigad[oa]|arigato"
    r"|never ?mind|nvm|forget (?:it|about it)|scratch that|no worries)\b",  # or a dismissal: "forget it, found it on arxiv myself"
    re.IGNORECASE,
)
# What follows thanks when it goes on to ask: "thanks, now compare it with ...", "thx. what about ..."
_ASKS_NEXT = re.compile(
    r"\W*(?:and\s+|now\s+|also\s+|but\s+|so\s+)*(?:what|which|who|why|when|where|how|can|could|would|does|do|did|is|are|compare|explain|summari[sz]e|tell|list|show|find|give)\b",
    re.IGNORECASE,
)
_HELP = re.compile(
    r"\bwhat (can|could|do|else can) you (actually |really |even )?do\b|\bhelp\b|\bwho (are|made|built) you\b|\bwhat are you\b|\bare you (a bot|human|an ai)\b"
    r"|\bhow (do|can|should|am|are) (i|we) (supposed to |meant to )?(use|talk to|ask|phrase|word|search|query)\b( (a|my|our|the))?( (search|searches|questions?|quer(y|ies)|requests?|things))?( (here|with you|to you))?|^\W*(usage|commands|menu|\?)\W*$"
    r"|\bhow (does|do) (this|it|paperbot|the bot|this bot|you) work\b|\bwho am i (talking|speaking|chatting) (to|with)\b|\bwhat is (paperbot|this bot)\b|\bwhat (can|should|do) i ask\b"
    r"|\bwhat (kind|kinds|sort|type|types) of (questions|things)\b|\bwhat are your (commands|features|capabilities)\b"
    r"|\bhow are you\b(?!\s+(?:supposed|meant|expected)\s+to\b)|\bwhat do you know\b|\bwhat('?s| is) (in )?(your|the) (store|database|library|corpus)\b"
    r"|\bwho (made|built|wrote|created|trained|maintains|runs|develops|developed) (you|this bot|the bot|paperbot)\b",
    re.IGNORECASE,
)
COMPARE = re.compile(
    r"\b(compare|comparison|comparing|contrast|differ|differs|different|difference|differences|versus|vs\.?|better than|worse than|similar to|similarities|relate|relationship between|stack up)\b",
    re.IGNORECASE,
)
_PAPERS = r"(?:reading\s+lists?|lit(?:erature)?\s+reviews?|surveys?|papers?|work|works|research|studies|study|articles?|preprints?|publications?|stuff|refs|references|literature|lit|reads|reading)"
_ABOUT = r"(?:on|about|regarding|re|related to|concerning|covering|in|for|around|with|using|involving)"
_FIND = re.compile(
    rf"""^\W*(?:
        (?:are\s+there\s+|is\s+there\s+|do\s+we\s+have\s+|have\s+we\s+got\s+|got\s+)?any(?:thing)?\s+(?:new\s+|recent\s+|good\s+|interesting\s+)?(?:{_PAPERS}\s+)?{_ABOUT}\b
      | {_PAPERS}(?:\s+(?:pls|plz|please|time|request|needed|wanted))?\s*[:–—-]\s
      | (?:(?:can|could|would)\s+you\s+)?(?:please\s+)?(?:help\s+(?:me|us)\s+(?:to\s+)?)?(?:list|show|find|give|get|fetch|recommend|suggest|search(?:\s+for)?|look\s+for|pull\s+up|dig\s+up)(?:\s+me|\s+us)?(?:\s+(?:all|some|the|a\s+few|any|few))?(?:\s+(?:new|recent|latest|relevant|good))?(?:\s+(?:the|of\s+the))?\s+(?:{_PAPERS}|something|anything)\s+{_ABOUT}\b
      | (?:is|are)\s+there\s+(?:any\s+|some\s+)?(?:new\s+|recent\s+)?(?:{_PAPERS}|something|anything)\s+{_ABOUT}\b
      | (?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:looking|searching)\s+for\s+(?:some\s+|any\s+)?(?:good\s+|recent\s+|new\s+)?(?:{_PAPERS}|something|anything)\s+{_ABOUT}\b
      | (?:(?:i|we)(?:\s+(?:need|want|would\s+like)|'d\s+like)|need|want)\s+(?:some\s+|a\s+few\s+|any\s+|a\s+)?(?:good\s+|recent\s+|new\s+|short\s+)?{_PAPERS}\s+{_ABOUT}\b
      | (?:i|we)(?:\s+(?:need|want|would\s+like)|'d\s+like)\s+to\s+read\s+(?:up\s+)?(?:about|on)\b
      | (?:any\s+)?(?:recommendations?|suggestions?|pointers?|reading)\s+(?:for\s+)?(?:(?:good\s+)?{_PAPERS}\s+)?{_ABOUT}\b
      | who(?:'s|\s+is)?\s+(?:works?|working|has\s+worked|wrote|writes|writing)\s+{_ABOUT}\b
      | what(?:'s|’s|s|\s+is)\s+(?:out\s+)?there\s+{_ABOUT}\b
      | what\s+(?:do|have)\s+(?:we|you)\s+(?:got\s+|have\s+)?{_ABOUT}\b
      | (?:what\s+can\s+you\s+|can\s+you\s+|please\s+)?tell\s+(?:me|us)\s+(?:something\s+|more\s+)?(?:about|on)\b
      | what\s+(?:papers|work|research)\s+(?:do|have)\s+(?:we|you)\s+(?:got\s+|have\s+)?{_ABOUT}\b
      | (?:what(?:'s|’s|s|\s+is|\s+are)?|anything|something)\s+new\s+{_ABOUT}\b
      | what\s+(?:came|come|has\s+come|arrived|landed)\s+in\s+{_ABOUT}\b
      | what(?:'s|’s|s|\s+is)?\s+(?:the\s+)?(?:latest|recent|new)\s+(?:{_PAPERS}\s+)?{_ABOUT}\b
      | (?:new|recent|latest|more)\s+{_PAPERS}\s+{_ABOUT}\b
      | {_PAPERS}\s+{_ABOUT}\b
      | which\s+papers\s+(?:are\s+about|are\s+on|discuss|study|cover|deal\s+with|look\s+at|tackle|address|mention|use)\b
      | (?:do|did)\s+we\s+have\s+(?!(?:a|an|one|the)\s+paper\b)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# The topic before the word "papers": "dense retrieval papers?", "any new RAG papers",
# "show me hyperparameter optimization work", "diffusion for audio - what's there?".
_FIND_BEFORE = re.compile(
    rf"""^\W*(?:(?:please\s+)?(?:list|show|find|give|get)(?:\s+me|\s+us)?\s+)?(?:(?:any|some|all|the)\s+)?(?:(?:new|recent|latest|good)\s+)?
        (?P<topic>.+?)\s+{_PAPERS}(?:\s+(?:here|around|out\s+there|in\s+here|in\s+the\s+(?:store|corpus|library)|(?:do\s+)?(?:we|you)\s+have))?\W*$
      | ^\W*(?P<topic2>.+?)\s*[-–—:,]\s*(?:what(?:'s|’s|\s+is)\s+(?:there|new)|what\s+do\s+we\s+have|which\s+(?:papers|ones)\s+do\s+we\s+have
          |(?:got\s+|have\s+we\s+got\s+|do\s+we\s+have\s+)?anything(?:\s+new|\s+recent)?|any\s+(?:new\s+|recent\s+)?{_PAPERS}
          |what(?:'s|’s|\s+is)\s+(?:in\s+(?:the|our|your)\s+(?:store|pile|collection|library|corpus)|in\s+here))\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "What's new today?", "anything new?", "what came in this week?": the new papers on any topic.
_NEW_ONLY = re.compile(
    rf"""^\W*(?:so\s+)?(?:(?:please\s+)?(?:show|list|give|get)(?:\s+me|\s+us)?\s+)?(?:
        (?:what(?:'s|’s|s|\s+is|\s+are)?|anything|something|any)\s+(?:the\s+)?(?:new|fresh|latest|recent|interesting|exciting|notable|good)(?:\s+{_PAPERS})?
      | what\s+(?:came|has\s+come|have\s+we\s+got|did\s+we\s+get|arrived|landed|came\s+out|(?:was|got|has\s+been|have\s+been)\s+added)(?:\s+in)?
      | (?:all\s+(?:the\s+)?)?(?:new|latest|recent|fresh)\s+{_PAPERS}
      | (?:everything|all)(?:\s+(?:the\s+)?(?:new|latest|recent|fresh))?(?:\s+{_PAPERS})?  # "show me everything from yesterday"
      | (?:'s\s+|’s\s+|any\s+|all\s+(?:the\s+)?)?{_PAPERS}  # "today's papers?", "any papers from yesterday?" (the window taken out)
    )(?:\s+(?:from|since|in|during|over|of))?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Where a topic trails off into examples or alternatives: "X? a, b, that kind of thing", "X / Y".
_AFTERTHOUGHT = re.compile(r"\?|\s/\s|,|;|\s[-–—]\s|\(")
# One paper asked for, in the singular: "paper on X?", "X - which paper?", "is there a paper
# that ...?". The fact path finds it and says whether it answers; "any paper on X?" is a list.
_ONE_PAPER = re.compile(
    r"^\W*(?:a|the|one)?\s*paper\s+(?:on|about|that|which|where|with|for|proposing|showing)\b"
    r"|\b(?:is\s+there|do\s+we\s+have|got|know\s+of)\s+(?:a|one)\s+paper\s+(?:on|about|that|which|where|with|for|proposing|showing)\b"
    r"|\b(?:which|what)\s+paper\b(?!s)|\bthe\s+paper\s+(?:on|about|that|which|where)\b",
    re.IGNORECASE,
)
# "Feature Removal compared to the disparities paper: ...": a comparison when it does not open
# with a question word ("How much faster did X get compared with Y?" asks for a number).
_COMPARED = re.compile(r"^(?!\W*(?:what|which|who|why|when|where|how|is|are|was|were|do|does|did|can|could)\b).+\bcompared\s+(?:to|with)\b", re.IGNORECASE)
_VERSUS = re.compile(r"\s(?:vs\.?|versus)\s", re.IGNORECASE)
_COMPARE_START = re.compile(r"^\W*(?:(?:can|could|would)\s+(?:you|someone|anyone|somebody)\s+)?(?:please\s+)?(?:compare|contrast)\b", re.IGNORECASE)
_TELL_ME = re.compile(r"\btell\s+(me|us)\b", re.IGNORECASE)
# What the listing says about a paper rather than its abstract: "who wrote it?", "authors?",
# "when was it published?", "link to the paper?". Not "did the authors of X check Y?" (a
# question about the paper), "who wrote this anonymous text?" (a topic), "link prediction" or
# "what's the link they draw?". `_DETAILS_OF_NAMED` holds the looser forms for a question that
# names its paper ("who wrote GPTVQ?", "when did PFGM++ come out?", "arxiv link for GPTVQ?").
_OF_IT = r"(?:it|this|that|them|these|those|#\d|(?:this|that|the)\s+(?:(?:first|second|third|last|\d(?:st|nd|rd|th))\s+)?(?:paper|one|work|preprint|pdf|abstract))"
_DETAILS = {
    "authors": re.compile(
        rf"\bwho\s+(?:wrote|authored|is\s+behind|are\s+behind)\s+{_OF_IT}\W*$|\bwho\s+(?:are|were|is|was)\s+(?:the|its|their)\s+authors?\b"
        r"|\b(?:list|name|give\s+me|show\s+me)\s+(?:the\s+|its\s+|their\s+)?authors\b|^\W*(?:and\s+|so\s+)?(?:the\s+|its\s+|their\s+)?authors?(?:\s+of\b[^?]*)?\W*$",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\bwhen\s+(?:was|were|is|did)\s+(?:they|{_OF_IT})\s+(?:first\s+)?(?:published|released|posted|out|come\s+out|appear|submitted)\b|\bpublication\s+date\b",
        re.IGNORECASE,
    ),
    "link": re.compile(
        rf"\b(?:link|url)\s+(?:to|for)\s+{_OF_IT}\b|^\W*(?:a\s+|the\s+)?(?:link|url|pdf)\b(?:\s+(?:to|for|of|pls|please)\b[^?]*)?\W*$"
        r"|\b(?:what(?:'s|\s+is)|send|share|give|post|got|have)\s+(?:me\s+|us\s+)?(?:the|its|their|a)\s+(?:arxiv\s+)?(?:link|url|pdf)\W*$"
        rf"|\bwhere\s+can\s+(?:i|we)\s+(?:read|find|get|download)\s+(?:{_OF_IT}|the\s+full\s+text)\b",
        re.IGNORECASE,
    ),
}
_DETAILS_OF_NAMED = {
    "authors": re.compile(r"\bwho\s+(?:wrote|authored|is\s+behind|are\s+behind|made)\b|\bauthors?\s+of\b", re.IGNORECASE),
    "date": re.compile(r"\bwhen\s+(?:was|were|is|did)\b[^?]{0,60}?\b(?:published|released|posted|out|come\s+out|appear|submitted)\b", re.IGNORECASE),
    "link": re.compile(_DETAILS["link"].pattern + r"|\b(?:link|url)\s+(?:to|for|of)\b|\b(?:arxiv|pdf)\s+(?:link|url|id|page)\b", re.IGNORECASE),
}


def asked_detail(question: str, named: bool) -> str:
    """Which of a paper's listing details the question asks for ("authors", "date", "link"),
    or ""; `named`: the question names one paper."""
    patterns = _DETAILS_OF_NAMED if named else _DETAILS
    return next((detail for detail, pattern in patterns.items() if pattern.search(question)), "")


_QUESTION_WORD = re.compile(r"^(what|which|who|whom|why|when|where|how|is|are|was|were|do|does|did|can|could|should|would|will|has|have|had)\b", re.IGNORECASE)
# A topic that goes on into a clause asks about one paper: "papers on X that report Y".
_CLAUSE = re.compile(r"\b(that|which|who|where|whose|when|and (what|how|which)|how (many|much))\b", re.IGNORECASE)
# A request for papers in the plural may describe its topic with a clause: "papers about agents
# that browse websites"; a topic this long would otherwise be a question about one paper.
_PLURAL_REQUEST = re.compile(r"\b(papers|refs|references|studies|works|literature|articles|preprints)\b", re.IGNORECASE)
# "... and how well does it do?", "... Which one is fastest?": a question of its own after the
# request. "papers about how many neurons fire" is still the topic: "how many" only counts
# where a clause starts.
_SECOND_QUESTION = re.compile(r"\band (what|how|which|why)\b(?!\s+to\b)|(?:^|[.?!;:]\s*)how (many|much|fast|well)\b", re.IGNORECASE)
# A request for papers anywhere in a message, read when no opening phrasing above matched:
# "@paperbot looking for optimizers that work on manifolds (...)", "I need X. Any papers?",
# "which papers in the store deal with X?", "new papers since monday about X?". Plural
# "papers" (not "a paper"), or "anything/any work on/that ...": the message asks for a list.
# Where the papers are, as people say it: "in our pile", "in the store", "here".
_THE_STORE = r"(?:the|our|your|this)\s+(?:store|pile|collection|library|corpus|db|database|stack|list|slack)"
_IN_THE_STORE = rf"in\s+{_THE_STORE}"
_PLURAL = r"(?:reading\s+lists?|papers|refs|references|literature|studies|preprints|articles|publications|pointers)"
_REQUEST_ANYWHERE = re.compile(
    rf"""\b(?:any|some|find|list|show|recommend|suggest|need|want|collected|looking\s+for|search(?:\s+for)?|pointers\s+to|are\s+there(?=\s+(?!(?:any|some|papers)\b)))\s+(?P<inner>(?:[\w/-]+\s+){{0,4}}?){_PLURAL}\b
      | \b(?:is|are)\s+there\s+(?:any|some)\s+(?P<inner_work>(?:[\w/-]+\s+){{1,4}}?)(?:work|research)\b(?!\s+(?:for|with)\b)  # "is there any fall detection work here?"
      | \b(?:collected|gathered|compiled)\s+(?:any\s+|some\s+)?(?:work|research)\b
      | \b(?:which|what)\s+{_PLURAL}\b
      | \b{_PLURAL}\s+(?:on|about|regarding|covering|characterizing|that|which|where|with|for(?!\s+(?:me|us)\b)|dealing|studying|proving|showing|using|applying|analy[sz]ing|proposing)\b
      | ^\W*(?:any|some)\s+(?:work|research)\s+(?:on|about|that|which|in|for)\b
      | (?:^|(?<=[.!?;:\n—–]))\W*(?:anything|something)\s+(?:new\s+|fresh\s+|recent\s+)?(?:on|about|regarding|that|which)\b
      | \bwhat\s+(?:do|have)\s+we\s+(?:got|have)\s+(?:on|about)\b
      | \bwhat(?:'s|’s|\s+is)\s+in\s+(?:the\s+store|here|there|the\s+corpus|the\s+library)\b
      | (?:^|(?<=[.!?;:\n]))\W*(?:i'?m\s+|we'?re\s+)?looking\s+for(?:\s+(?:some|any))?(?:\s+(?:{_PLURAL}|anything|something|work|research))?(?:\s+(?:on|about|regarding|that|which|where))?\b
      | \b(?:are\s+there|there\s+are)\s+(?:any\s+|some\s+)?papers(?:\s+(?:on|about|of|regarding|that|which|where))?\b
      | \b(?:we|you)\s+(?:got|have)\s+anything\b
      | \b(?:do|did)\s+you\s+(?:know|have)\s+(?:anything|something)\s+(?:on|about|regarding)\b(?!\s+(?:papers|it|this|that|them)\b)  # "do you know anything about protein folding?"
      | \b(?:did|has|have)\s+(?:anything|something)\s+(?:new\s+)?(?:on|about)\b
      | \b(?:is|are)\s+there\s+(?:anything|something)(?:\s+(?:new|recent|here|{_IN_THE_STORE}))*\s+(?:on|about|regarding|covering)\b
      | \b(?:came|come|arrived|arrive|landed|land|dropped|drop|appeared|appear)(?:\s+in|\s+out)?(?:\s+(?:lately|recently))?\s+(?:on(?!\s+top\b)|about|regarding)\b  # not "came out on top"
      | \b(?:love|like|appreciate|welcome)\s+(?:a\s+|some\s+|any\s+)?pointers?\b
      | \b(?:which|what)\s+ones\s+(?:are|do\s+we\s+have)\s+(?:{_IN_THE_STORE}|here)\b
      | \bthere(?:\s+is|\s+are|'s|’s)\s+(?:any\s+|some\s+)?(?:work|research|literature)\s+(?:on|about|regarding|that|which|for)\b
      | \b(?:are\s+there|any)\s+(?:good\s+|new\s+|other\s+)?(?:methods|approaches|techniques|datasets|benchmarks|algorithms)\s+(?:that|which|for|on)\b""",
    re.IGNORECASE | re.VERBOSE,
)
# A message that describes its topic and ends by asking for papers in a clause of its own,
# whatever separates them: "optimal transport with sparse plans. what do we have?",
# "neural PDE solvers + adaptivity:\n- moving meshes\nwhat's there?", "X - list pls".
_TRAILING_REQUEST = re.compile(
    rf"""(?:^|[.?!;:,\n]|\s[-–—]\s)\s*(?:so\s+|and\s+)?(?:
        what(?:'s|’s|\s+is|\s+else\s+is)?\s+(?:out\s+)?there(?:\s+(?:on\s+(?:it|this|that)))?
      | what\s+(?:do|have|did)\s+(?:we|you)\s+(?:got|have|get)(?:\s+(?:on\s+(?:it|this|that)|here))?
      | (?:got\s+|have\s+we\s+got\s+|do\s+we\s+have\s+|is\s+there\s+)?(?:anything|something)(?:\s+(?:new|fresh|recent|else|good))?(?:\s+(?:here|{_IN_THE_STORE}|on\s+(?:it|this|that)))?
      | (?:any|some)\s+(?:good\s+|new\s+|recent\s+)?(?:papers|refs|references|work|reading)(?:\s+(?:here|on\s+(?:it|this|that)))?
      | (?:please\s+)?(?:list|show)(?:\s+(?:them|some|me|us|papers))?
      | (?:refs|references|papers|reading\s+list|pointers)
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# What is left of a request in front of its topic: "latest on", "new papers since ... about", "on".
_TOPIC_LEAD = re.compile(r"^\W*(?:(?:any(?:thing)?|some|the)\s+)?(?:(?:new|newest|latest|recent|fresh)[\s:]+)?(?:(?:papers?|work|stuff|research)\s+)?(?:on|about|regarding|re|covering|for|that|where|in|of)?\b[\s:]*", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.:;!?\n]")
_INTRODUCES = re.compile(r"\b(?:on|about|regarding|covering|that|which|where|whether)\W*$", re.IGNORECASE)
_ENDS_IN_ABOUT = re.compile(r"\b(?:on|about|regarding|covering)\W*$", re.IGNORECASE)
_PRONOUNS = {"it", "this", "that", "them", "these", "those", "they"}
_ENDS_IN_PAPERS = re.compile(rf"\b{_PLURAL}\W*$", re.IGNORECASE)
# Words that only say who asks or is asked: "has anybody collected papers where ...".
_ASKERS = set("has have had anybody anyone somebody someone any team hey hi folks guys all we i our us here".split())
# The bot as the subject: "are you", "you're", "do you (only) have/read/keep", "will you summarize", "your", "this bot",
# "do you get updated", "tell me a joke", a link or file the asker would hand over. Not "can you" or "if you": fact questions use those for anyone
# ("can you drop whole layers at init?").
_ABOUT_THE_BOT = re.compile(
    r"\b(?:are|were)\s+you\b(?!\s+(?:supposed|meant|expected)\s+to\b)|\bam\s+i\s+(?:talking|speaking|chatting)\s+(?:to|with)\b|\byou(?:'re|’re|\s+are)\b(?!\s+(?:supposed|meant|expected)\s+to\b)|\bdo\s+you\s+(?:actually\s+|even\s+|also\s+|only\s+|just\s+)?(?:have|know|read|store|keep|support|update|use|run|remember|cover|speak|understand)\b|\bwill\s+you\s+(?:also\s+)?(?:write|summari[sz]e|read|remember|post|send|notify|learn|keep|handle|accept|understand)\b"
    r"|\bcan\s+you\s+(?:also|even)\b|\byour\b|\byou(?:'ve|’ve|\s+have)\s+(?:got\s+)?(?:stored|saved|indexed|ingested|loaded)\b|\b(?:browse|search|google)\s+(?:the\s+)?(?:web|internet|online)\b"
    r"|\b(?:i|we)\s+(?:can\s+|could\s+|just\s+|also\s+)?(?:paste|upload|send|share|attach|drop|give|forward|post)\b[^.?!]{0,30}\b(?:links?|pdfs?|files?|urls?|documents?)\b"  # "if I paste an arXiv link, can you ...?"
    r"|\b(?:this|the)\s+(?:paper\s*)?bot\b|\bignore\s+(?:me|this)\b|\b(?:talk|write|speak|chat)\s+(?:to|with)\s+you\b"
    r"|\b(?:can|could|do|will|would)\s+you\s+(?:also\s+)?(?:answer|reply|respond|speak|understand|talk|write|chat)\b[^?]{0,30}?\bin\s+(?:[A-Z][a-z]+(?:ish|ese|ian|an|ch|ic)|other\s+languages?|another\s+language|any\s+language)\b|\bjust\s+testing\b|\b(?:tell|know)(?:\s+me|\s+us)?\s+(?:a|any)\s+(?:[\w-]+\s+){0,2}?(?:joke|jokes|story|poem)\b|\b(?:do|did|will|are|were)\s+you\s+(?:get|got|being)\s+(?:updated|refreshed|retrained|trained)\b",
    re.IGNORECASE,
)
# Who the message is addressed to, its lead-in, and a polite tail: none is part of a topic.
_ADDRESS = re.compile(
    r"^\W*(?:@?paperbot\b|hey\s+(?:team|all|folks|guys|everyone)\b|hi\s+(?:team|all)\b|yo\b|pls\b|please\b|quick\s+(?:q|question)\b|(?:q|question)\s*:)[\s,:!.-]*",
    re.IGNORECASE,
)
_POLITE_TAIL = re.compile(r"[\s,]*\b(?:pls|plz|please|thx|thanks|ty)\W*$", re.IGNORECASE)
_NEW_WORDS = re.compile(r"\b(new|newest|latest|recent|recently|lately|fresh|came\s+(?:in|out)|landed|arrived|dropped)\b", re.IGNORECASE)
# New papers asked for "lately": "what came in lately on X", "anything on X recently?".
_LATELY = re.compile(r"\b(?:came\s+in|landed|arrived|anything|any)\b.*\b(?:lately|recently)\b|\b(?:lately|recently)\b.*\b(?:came\s+in|landed|arrived)\b", re.IGNORECASE)
_PARENTHESES = re.compile(r"\([^()]*\)")
# With a window, any request reads as "what's new": "any paper this week about X?".
_ANY_REQUEST = re.compile(r"\b(any|anything|something|papers?)\b", re.IGNORECASE)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# Words that carry nothing besides a greeting or a request for help: "hey there", "thanks, that helps".
_FILLER = set(
    """there bot paperbot so much lot helps helped helpful useful again very all guys team everyone folks dear buddy mate
    good great nice cool awesome perfect amazing excellent wonderful appreciated appreciate that's thats super
    anyway anyways pls plz please thing tool app use actually really just you list lists paper papers topic topics question questions some any one""".split()
)
# Words asking about a named paper as a whole: "what is X", "tell me about X", "X's main results".
_EXPLAIN_WORDS = set(
    """what what's whats is are was were the a an tell me us about explain describe summarize summarise summary
    summarization of overview give do does did it its work works working how this that paper papers method approach
    model idea ideas main key core contribution contributions result results finding findings problem problems solve
    solves solved propose proposes proposed introduce introduces introduced in on can could you please briefly quick
    quickly short behind new brief gist tldr tl dr eli5 more know anything say says said for i want to would like
    s whats' doing really exactly basically all up goal goals point so who wrote why care deal thoughts think opinion
    like i i'm im am new five simple simply plain terms words english layman layman's rundown breakdown takeaway
    takeaways novelty novel high level walk through sum with nutshell claim claims claiming claimed find found finds
    motivation pls plz fix""".split()
)


@dataclass(frozen=True)
class Window:
    since: datetime
    label: str  # as the user said it: "today", "this week", "since Monday", "the last 7 days"


@dataclass(frozen=True)
class Intent:
    kind: Kind
    topic: str = ""  # find / new: what the papers should be about ("" for "what's new?": any topic)
    papers: tuple[str, ...] = ()  # paper ids named in the question, in order (choose: the earlier answer's)
    window: Window | None = None  # new: only papers first seen since then
    unclear: tuple[str, ...] = ()  # names that match several papers, or none
    sides: tuple[str, ...] = ()  # a comparison whose papers are not both named: the two things compared
    request: str = ""  # find / new: the whole request, less address, window and politeness
    detail: str = ""  # details: "authors", "date" or "link" of the named paper or the thread's
    excluded: tuple[str, ...] = ()  # find / new: what the request says it does not want ("not quantum computing pls")

    @property
    def search_text(self) -> str:
        """What a list searches with: the topic, then the whole request when it says more
        ("recurrent nets - what's in the pile? memory limits of RNNs, continuous-time RNNs,
        recurrent LMs" finds those three, "recurrent nets" alone one). On the 206 list
        questions of the tuning kinds sets, two right papers listed went from 0.77 to 0.81 and
        precision from 0.84 to 0.88 (in sample; docs/calibration.md, "Session 11")."""
        return f"{self.topic}. {self.request}" if self.request and self.request != self.topic else self.topic


# "(not quantum computing pls)", ", NOT Adam-style methods, we have those", "papers that are NOT
# frame interpolation", "no ML needed", "please skip the bilinear-MLP papers", "I don't need
# Adam-style optimizer papers": what a list request leaves out. Only a "not" that opens its
# clause: "whether it's not just compute" and "not only X but Y" say nothing is excluded, and
# "skip connections" is a topic.
_EXCLUSION = re.compile(
    r"""(?:(?<=[(,.;:?!])|(?<=\s[-–—])|\s(?:that\s+|which\s+)?(?:are|is)|^)\s*
        (?:not|except(?:\s+for)?|excluding|besides|other\s+than|apart\s+from)\s+(?!only\b|just\b|sure\b|necessarily\b|exactly\b|that\b|too\b|much\b)
        (?:the\s+|any\s+)?(?P<what>[^.;:?!()\n,]+?)(?:\s+(?:pls|please|plz|stuff|papers|work|needed))?\s*(?=[.;:?!()\n,]|\s[-–—]\s|$)
      | \bno\s+(?P<needed>[^.;:?!()\n,]+?)\s+needed\b
      | (?:\b(?:please|pls|plz)\s+skip|\b(?:skip|ignore)(?=\s+(?:the|any|all|those)\b)|\bleave\s+out
          |\b(?:i|we)\s+(?:don'?t|do\s+not)\s+(?:need|want)|\bno\s+need\s+for)\s+
        (?:the\s+|any\s+|all\s+|those\s+)?(?P<skipped>[^.;:?!()\n,]+?)(?:\s+(?:pls|please|plz|stuff|papers|work|ones))?\s*(?=[.;:?!()\n,]|\s[-–—]\s|$)""",
    re.IGNORECASE | re.VERBOSE,
)


def without_exclusions(intent: Intent) -> Intent:
    """A list request's exclusions taken out of what it searches with, and kept apart: the
    lists stage leaves out papers nearer to them than to the topic."""
    excluded = tuple(" ".join((m["what"] or m["needed"] or m["skipped"]).split()) for m in _EXCLUSION.finditer(intent.request or intent.topic))
    if not excluded:
        return intent

    def cut(text: str) -> str:
        return " ".join(re.sub(r"\(\s*\)", " ", _EXCLUSION.sub(" ", text)).split()).strip(" ,;-(") or text

    return replace(intent, topic=clean_topic(cut(intent.topic)), request=cut(intent.request), excluded=excluded)


def prepare_question(question: str, max_chars: int) -> tuple[str, str | None]:
    """Collapse whitespace, refuse an empty question, and cut an over-long one with a notice."""
    question = " ".join(question.split())
    if not question:
        raise ValueError(EMPTY_QUESTION)
    if len(question) <= max_chars:
        return question, None
    cut = question[:max_chars].rsplit(" ", 1)[0] or question[:max_chars]
    return cut, CUT_NOTICE.format(limit=max_chars)


# "in the last", "over the past", "within the last": how a window back from now opens (groups 1-2).
_BACK = r"\b(in the |over the |from the |during the |within the )?(last|past)\s+"
# How many days, weeks or months back: "3", "three", "a couple of", "few" (`_count` reads them).
_HOW_MANY = r"(\d+|two|three|four|five|six|seven|eight|nine|ten|a couple of|couple of|a few|few|several)"


def find_window(question: str, now: datetime) -> tuple[Window | None, str]:
    """The time window the question names, and the question without it."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rules: list[tuple[str, object]] = [
        (r"\b(since|from)\s+yesterday\b|\byesterday\b", lambda m: Window(today - timedelta(days=1), "since yesterday")),
        (r"\b(so far\s+)?today\b|\bthis (morning|afternoon|evening)\b|\btonight\b|\bsince\s+(?:lunch|breakfast|this\s+morning|(?:the\s+)?morning)\b", lambda m: Window(today, "today")),
        (r"\bsince\s+(?:the\s+end\s+of\s+)?last\s+week\b", lambda m: Window(today - timedelta(days=7), "in the last week")),
        (r"\bthis week\b", lambda m: Window(today - timedelta(days=today.weekday()), "this week")),
        (r"\bsince\s+the\s+(?:start|beginning)\s+of\s+(?:the|this)\s+month\b", lambda m: Window(today.replace(day=1), "this month")),
        (r"\bsince\s+the\s+(?:start|beginning)\s+of\s+(?:the|this)\s+week\b", lambda m: Window(today - timedelta(days=today.weekday()), "this week")),
        (r"\bsince\s+the\s+(?:start|beginning)\s+of\s+(?:the|this)\s+quarter\b", lambda m: Window(today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1), "this quarter")),
        (r"\bsince\s+the\s+(?:start|beginning)\s+of\s+(?:the|this)\s+year\b", lambda m: Window(today.replace(month=1, day=1), "this year")),
        (r"\bthis month\b", lambda m: Window(today.replace(day=1), "this month")),
        (rf"{_BACK}(\d+|two|three|four|five|six|seven|eight|nine|ten)\s+days?\b", lambda m: Window(today - timedelta(days=_count(m.group(3))), f"in the last {_count(m.group(3))} days")),
        (rf"{_BACK}(\d+)\s*(?:hours?|hrs?|h)\b", lambda m: Window(now - timedelta(hours=int(m.group(3))), f"in the last {m.group(3)} hours")),
        (rf"{_BACK}(?:few|couple of|several|a few)\s+hours\b", lambda m: Window(now - timedelta(hours=6), "in the last 6 hours")),
        (rf"{_BACK}hour\b", lambda m: Window(now - timedelta(hours=1), "in the last hour")),
        (rf"{_BACK}(\d+)\s*(?:minutes?|mins?)\b", lambda m: Window(now - timedelta(minutes=int(m.group(3))), f"in the last {m.group(3)} minutes")),
        (r"\bsince\s+(?:(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b\.?|(\d{1,2}):(\d{2})\b|(noon|midday|lunchtime))", lambda m: _since_clock(now, m)),
        (r"\bsince\s+the\s+(3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)\b", lambda m: _since_day_of_month(today, int(m.group(1)))),
        (rf"{_BACK}fortnight\b", lambda m: Window(today - timedelta(days=14), "in the last 14 days")),
        (rf"{_BACK}(few|couple of|several)\s+days\b", lambda m: Window(today - timedelta(days=3), "in the last few days")),
        (rf"{_BACK}{_HOW_MANY}\s+weeks\b", lambda m: Window(today - timedelta(days=7 * _count(m.group(3))), f"in the last {7 * _count(m.group(3))} days")),
        (rf"{_BACK}week\b", lambda m: Window(today - timedelta(days=7), "in the last week")),
        (r"\b(over|during|on|from|since)?\s*(the|this|last)\s+weekend\b", lambda m: _since_weekday(today, "saturday")),
        (rf"{_BACK}month\b", lambda m: Window(today - timedelta(days=30), "in the last month")),
        (rf"{_BACK}{_HOW_MANY}\s+months\b", lambda m: Window(today - timedelta(days=30 * _count(m.group(3))), f"in the last {30 * _count(m.group(3))} days")),
        (r"\b(?:this|the\s+current)\s+quarter\b", lambda m: Window(today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1), "this quarter")),
        (r"\b(in the |over the |during the |within the )?(last|past)\s+quarter\b", lambda m: Window(today - timedelta(days=91), "in the last 91 days")),
        (r"\bthis\s+year\b|\bsince\s+(?:january|new\s+year)\b", lambda m: Window(today.replace(month=1, day=1), "this year")),
        (rf"\bsince\s+(last\s+)?({'|'.join(_WEEKDAYS)})(?:\s+(?:morning|afternoon|evening|night))?\b", lambda m: _since_weekday(today, m.group(2).lower())),
        (r"\bsince\s+(\d{4}-\d{2}-\d{2})\b", lambda m: Window(datetime.fromisoformat(m.group(1)).replace(tzinfo=now.tzinfo), f"since {m.group(1)}")),
    ]
    for pattern, make in rules:
        match = re.search(pattern, question, re.IGNORECASE)
        if match:
            rest = (question[: match.start()] + " " + question[match.end() :]).strip()
            return make(match), " ".join(rest.split())
    return None, question


def _count(words: str) -> int:
    """"two" -> 2, "a couple of" -> 2, "few"/"several" -> 3, "5" -> 5."""
    number = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3}
    return number.get(words.lower()) or int(words)


def _since_clock(now: datetime, match: re.Match) -> Window:
    """"since 2pm", "since 14:30", "since noon": today at that time, or yesterday when it is still to come."""
    hour, minute, half, hour24, minute24, noon = match.groups()
    if noon:
        hour, minute = 12, 0
    elif hour24:
        hour, minute = int(hour24), int(minute24)
    else:
        hour, minute = int(hour) % 12 + (12 if half.lower() == "p" else 0), int(minute or 0)
    if hour > 23 or minute > 59:
        return Window(now.replace(hour=0, minute=0, second=0, microsecond=0), "today")
    since = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if since > now:
        since -= timedelta(days=1)
    return Window(since, f"since {match.group(0).split(None, 1)[1]}")


def _since_day_of_month(today: datetime, day: int) -> Window:
    """"since the 10th": this month's 10th, or last month's when it is still to come."""
    month = today if day <= today.day else (today.replace(day=1) - timedelta(days=1))
    last_day = ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    since = month.replace(day=min(day, last_day))  # "since the 31st" in a shorter month: its last day
    return Window(since, f"since the {day}{_ordinal(day)}")


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _since_weekday(today: datetime, day: str) -> Window:
    back = (today.weekday() - _WEEKDAYS.index(day)) % 7 or 7
    return Window(today - timedelta(days=back), f"since {day.capitalize()}")


# What papers do with a topic, said between the request and it: "which papers ... deal with X".
_TOPIC_VERB = re.compile(
    r"^(?:deal(?:s|ing)?\s+with|cover(?:s|ing)?|stud(?:y|ies|ying)|discuss(?:es|ing)?|address(?:es|ing)?|tackle[sd]?|looks?\s+at"
    r"|(?:are|is)\s+(?:about|on)|talks?\s+about|focus(?:es)?\s+on|works?\s+on|compar(?:e|es|ing)|contrast(?:s|ing)?)\s+",
    re.IGNORECASE,
)


def clean_topic(text: str) -> str:
    text = re.sub(rf"^\W*{_THE_STORE}\s+(?:on|about|regarding|re|covering|for)\s+", "", text.strip(), flags=re.IGNORECASE)  # "(anything in) our pile about X"
    text = re.sub(r"^\W*(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:really\s+)?(?:interested|curious)\s+(?:in|about)\s+", "", text.strip(), flags=re.IGNORECASE)  # "I'm interested in X, ..."
    text = re.sub(r"^\W*(the|a|an|some|any)\s+", "", text.strip(), flags=re.IGNORECASE)
    text = _TOPIC_VERB.sub("", text)  # "(which papers) deal with X"
    text = re.sub(r"\b(please|pls|thanks|today|recently|lately|so far|at all|in the store|in the corpus|here)\b", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+(stuff|things)\W*$", "", text.strip(), flags=re.IGNORECASE)  # "epistemic uncertainty stuff"
    text = re.sub(r"\s*[,;:–—-]\s*(any|some|anything)\W*$", "", text.strip(), flags=re.IGNORECASE)  # "X, any papers?"
    text = re.sub(r"\s+[-–—]+\W*$", "", text.strip())  # "biomedical NER — papers?"
    text = re.sub(r"\s+(?:from|during|over|since|within)\W*$", "", text.strip(), flags=re.IGNORECASE)  # "quantization from (this week)"
    return " ".join(text.strip(" \t?.!,;:").split())


# "anythng on X?": the word that most often makes a message a request, typed in a hurry.
_MISTYPED_ANYTHING = re.compile(r"\b(?:anythng|anyting|anythin|anyhting|anythign|antyhing)\b", re.IGNORECASE)
# "which papers compare linear probing against fine-tuning?": papers that compare, not a comparison.
_PAPERS_THAT_COMPARE = re.compile(rf"\b(?:which|what|any)\s+{_PLURAL}\s+(?:that\s+)?(?:compare|contrast)\b", re.IGNORECASE)


def classify(question: str, names: NameIndex, now: datetime, rules: QuestionSettings) -> Intent:
    """The kind of a question (see the module docstring), with its topic, window and named papers.
    `rules.max_topic_words`: a longer topic, or one with a clause of its own, is a question
    about one paper phrased as a search; `rules.default_new_days`: how far back "what's
    new?" looks when it names no window."""
    question = _MISTYPED_ANYTHING.sub("anything", question)
    words = question_words(question)
    greeting = _GREETING.match(question)
    said = _without_address(question[greeting.end() :] if greeting else question)
    if (greeting or _HELP.search(question)) and not [w for w in _content(question_words(_HELP.sub(" ", said))) if w.lower() not in _FILLER]:
        return Intent("help")
    matched = names.find(question)
    papers, ambiguous = named_papers(matched)
    detail = asked_detail(said, named=len(papers) == 1)
    if detail and len(papers) <= 1:  # of the named paper, or else of the thread's
        return Intent("details", papers=tuple(papers), detail=detail)
    def asks_nothing() -> bool:  # after a greeting or thanks: no paper named, nothing asked for
        return not matched and not (_ASKS_NEXT.match(said) or _REQUEST_ANYWHERE.search(said) or _FIND.match(said))

    if _OTHER_LANGUAGE_GREETING.match(question) and asks_nothing():
        return Intent("help")
    # "thx, the bit about the restoration step was exactly what I was missing": thanks (or
    # "never mind") with a remark, asking nothing.
    if _THANKS.match(question) and "?" not in question and asks_nothing():
        return Intent("help")
    # "are you running on gpt?", "lol you're faster than our reading group": about the bot.
    # ("I'm into graph nets, what do you have?" asks for papers; "what do you have?" alone asks about the bot.)
    trailing = _TRAILING_REQUEST.search(said)
    if not matched and _ABOUT_THE_BOT.search(question) and not _REQUEST_ANYWHERE.search(said) and not _FIND.match(said) and not (trailing and trailing.start() > 0):
        return Intent("help")
    # Two named papers: a comparison even without a comparing word ("GPTVQ or AQLM?"), but not
    # in a request for papers ("besides rectified flow and stochastic interpolants, which papers ...?").
    if len(papers) >= 2 and (COMPARE.search(question) or not _REQUEST_ANYWHERE.search(question)):
        return Intent("compare", papers=tuple(papers[:2]))

    window, rest = find_window(said.lstrip(" ,.!"), now)
    if not papers and _NEW_ONLY.match(rest):
        return Intent("new", window=window or _last_days(now, rules.default_new_days))
    # "Compare ADAHESSIAN and the lazy Hessians paper" ends like "X paper?" but compares;
    # "X - which paper?" asks for one paper: neither is a list.
    one_paper = bool(_ONE_PAPER.search(rest)) and not re.search(r"\bpapers\b", rest, re.IGNORECASE)
    # "X vs Y paper?" compares; "X vs Y papers?" and "what came in on X vs Y?" ask for lists.
    versus = bool(_VERSUS.search(rest)) and not re.search(r"\bpapers\b", rest, re.IGNORECASE) and not _FIND.match(rest)
    topic, asked = ("", "") if _COMPARE_START.match(rest) or one_paper or versus else find_topic(rest, rules.max_topic_words)
    # "Tell me about GPTVQ" asks about that paper; "any papers on RLHF?" still wants a list.
    if topic and _TELL_ME.search(asked) and not _content(_unnamed_words(question_words(topic), names.find(topic))):
        if len(papers) == 1:
            return Intent("explain", papers=(papers[0],))
        if ambiguous and not papers:
            return Intent("clarify", unclear=tuple(m.text for m in ambiguous))
    if topic:
        if window is None and _NEW_WORDS.search(asked):
            window = _last_days(now, rules.default_new_days)
        return without_exclusions(Intent("new" if window else "find", topic=topic, window=window, request=_POLITE_TAIL.sub("", rest).strip()))

    leftover = _content(_unnamed_words(words, matched))
    if len(papers) == 1 and not leftover:
        return Intent("explain", papers=(papers[0],))
    if ambiguous and not papers and not leftover:
        return Intent("clarify", unclear=tuple(m.text for m in ambiguous))
    if not papers and not ambiguous:
        unknown = [w for w in words if looks_like_name(w)]
        if len(unknown) == 1 and not _content([w for w in words if w != unknown[0]]):
            return Intent("clarify", unclear=(unknown[0],))
    # "X vs Y", "compare X and Y", "X or Y?": two sides, each found by search when named loosely.
    # But "or" inside a request for papers names alternatives: "anything on MI or KL bounds?".
    if (not COMPARE.search(question) or _PAPERS_THAT_COMPARE.search(question)) and not one_paper:
        request = _request_anywhere(said, now, rules, named=bool(papers))
        if request:
            return request
        facets = _facets_topic(rest, rules.max_topic_words)  # "classical learning theory pls: VC dimension, fat-shattering, ..."
        if facets:
            return without_exclusions(Intent("new" if window else "find", topic=facets, window=window, request=_POLITE_TAIL.sub("", rest).strip()))
    compares = COMPARE.search(question) or _COMPARED.match(question) or _OR_SIDES.match(_AFTERTHOUGHT.split(_context_dropped(question), maxsplit=1)[0])
    return Intent("fact", papers=tuple(papers), sides=compare_sides(question, rules.max_topic_words) if compares else ())


def _request_anywhere(said: str, now: datetime, rules: QuestionSettings, named: bool) -> Intent | None:
    """A list request the opening phrasings missed. Its topic is the whole message less the
    address, the window and the politeness, however long: the lists stage searches with it
    and keeps only papers near it. A second question ("... and how well does it do?") still
    goes to the fact path, as does a window with no request about a named paper."""
    message = _POLITE_TAIL.sub("", said).strip()
    window, rest = find_window(message, now)
    # "adversarial robustness papers", "X. what do we have?" ask for papers; "... in scientific
    # papers?" and "which one is faster? anything?" ask a question.
    described = not _QUESTION_WORD.match(rest)
    match = _REQUEST_ANYWHERE.search(rest) or ((_TRAILING_REQUEST.search(rest) or _ENDS_IN_PAPERS.search(rest)) if described else None)
    # A window with anything asked for new ("... today?", "any paper this week about X?"),
    # or new things asked for lately, is "what's new".
    # So is a window after a bare topic: "Schrödinger equation solvers in the last 12 hours?",
    # "stuttering / disfluency detection in speech since 3pm?" (no question word anywhere, and
    # not about the bot: "bot up and running today?").
    noun_phrase = _ENDS_IN_PLURAL.search(rest) or (rest.endswith("?") and not _ASKS_ANYWHERE.search(rest))
    bare = described and len(rest.split()) <= rules.max_topic_words and noun_phrase and not _CLAUSE.search(rest)
    newly = not named and ((window and (_NEW_WORDS.search(rest) or _ANY_REQUEST.search(rest) or bare)) or _LATELY.search(rest))
    # A parenthesis only says more about the topic: "(and how it interacts with X)".
    if _SECOND_QUESTION.search(_PARENTHESES.sub(" ", rest)) or not (match or newly):
        return None
    before, after = (rest[: match.start()], rest[match.end() :]) if match else ("", "")
    # (only two of _REQUEST_ANYWHERE's phrasings have an inner part; the trailing requests have none)
    parts = match.groupdict() if match else {}
    inner = clean_topic(" ".join(w for w in (parts.get("inner") or parts.get("inner_work") or "").split() if w.lower() not in _LIST_WORDS))
    # "... some continual / lifelong learning papers to point at", "are there tutorials or handbook-style papers in the store?"
    if inner and (not _TOPIC_AFTER.match(after) or _ONLY_WHERE.match(after)):
        topic = inner
    elif match and not [w for w in _content(question_words(before)) if w.lower() not in _ASKERS]:
        # "looking for papers on X", "has anybody collected papers where X": X follows the request
        topic = after
    elif match and _names_its_topic(match.group(), before, after):
        topic = after
    elif match:  # "I need X. Any papers?": the request is said around X
        topic = rest[: match.start()] + " " + rest[match.end() :]
    else:
        topic = rest
    topic = clean_topic(_TOPIC_LEAD.sub("", clean_topic(topic)))
    if not topic:
        return None
    # "new" in the request's own sentence: "any new papers on X", not "... a new model. Are there papers?"
    if window is None and (newly or (match and _NEW_WORDS.search(_CLAUSE_END.split(rest[: match.start()])[-1] + match.group()))):
        window = _last_days(now, rules.default_new_days)
    return without_exclusions(Intent("new" if window else "find", topic=topic, window=window, request=rest.strip()))


# A word that asks, or speaks to someone, anywhere: what a noun phrase with a window ("X since
# 3pm?") does not have.
_ASKS_ANYWHERE = re.compile(r"\b(?:what|which|who|whom|whose|why|when|where|how|whether|is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|i|we|you|u|bot|paperbot)\b", re.IGNORECASE)
# A noun phrase that ends in a plural: "Schrödinger equation solvers", "GANs".
_ENDS_IN_PLURAL = re.compile(r"^[^?]*\w[^\Wsu]s\W*$|^[^?]*[A-Z]s\W*$")
# Where the papers are, and nothing after: no topic.
_ONLY_WHERE = re.compile(rf"\s*(?:{_IN_THE_STORE}|in\s+here|here)\W*$", re.IGNORECASE)
# Words that say which papers, not what they are about: "any fresh papers", "some good refs".
_LIST_WORDS = set("new newest latest recent recently fresh good relevant interesting related similar other more few the of these those their its such".split())
# The request goes on to its topic: "(want to read papers) on X", "(papers) that test X".
_TOPIC_AFTER = re.compile(r"\W*(?:on|about|regarding|covering|concerning|that|which|where|with|for|in|of)\b", re.IGNORECASE)


def _names_its_topic(request: str, before: str, after: str) -> bool:
    """The request goes on to name its topic, and what is said before it is context: "Before
    I start, is there anything here on Y?", "For Thursday's reading group: are there papers
    that test Y?". Not "graph nets for molecules, any papers that scale?"."""
    introduces = _INTRODUCES.search(request) and (_ENDS_IN_ABOUT.search(request) or _CLAUSE_END.search(before))
    return bool(introduces) and any(w.lower() not in _PRONOUNS | _ASKERS for w in _content(question_words(after)))


def _without_address(text: str) -> str:
    """"@paperbot quick q: X" -> "X"."""
    while (stripped := _ADDRESS.sub("", text, count=1)) != text:
        text = stripped
    return text


def _last_days(now: datetime, days: int) -> Window:
    return Window(now - timedelta(days=days), f"in the last {days} days")


_SIDES = [
    re.compile(r"^\W*(?:(?:can|could|would)\s+(?:you|someone|anyone|somebody)\s+)?(?:please\s+)?(?:compare|contrast)\s+(?:the\s+)?(?P<a>.+?)\s+(?:and|with|to|vs\.?|versus|against)\s+(?:the\s+)?(?P<b>.+?)\W*$", re.IGNORECASE),
    re.compile(r"^\W*(?:how\s+(?:does|do|is|are)\s+)?(?:the\s+)?(?P<a>.+?)\s+(?:differ|different|compare[sd]?)\s+(?:from|to|with)\s+(?:the\s+)?(?P<b>.+?)\W*$", re.IGNORECASE),
    re.compile(r"^\W*(?:what(?:'s|’s|\s+is|\s+are)\s+)?(?:the\s+)?(?:main\s+|key\s+)?differences?\s+between\s+(?:the\s+)?(?P<a>.+?)\s+and\s+(?:the\s+)?(?P<b>.+?)\W*$", re.IGNORECASE),
    re.compile(r"^\W*(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+?)\W*$", re.IGNORECASE),
    # "how do X and Y relate?", "X and the Y paper both use two teachers, right?"
    re.compile(r"^\W*(?:how\s+(?:do|does|is|are)\s+)?(?:the\s+)?(?P<a>.+?)\s+and\s+(?:the\s+)?(?P<b>.+?)\s+(?:relate|compare|stack\s+up|both)\b", re.IGNORECASE),
    # Not a setting: "in 32-bit or 16-bit floating point, how far ...?" asks one thing in two settings.
    _OR_SIDES := re.compile(r"^\W*(?!(?:what|which|who|why|when|where|how|is|are|do|does|did|can|could|should|would|will)\b|(?:in|on|at|under|with|using|for|from|by|over|across|within|without)\s)(?P<a>.+?)\s+or\s+(?P<b>.+?)\W*$", re.IGNORECASE),
]


# "the paper on X", "X method": what a side is called, not what it is.
_SIDE_WORDS = re.compile(r"^(?:the|a)\s+(?:(?:paper|work)\s+(?:on|about)\s+)?|^(?:paper|work)\s+(?:on|about)\s+|\s+(?:paper|papers|method|approach|work|one)$", re.IGNORECASE)
# "For a trip-planning assistant, X or Y?": the setting before the comparison.
_CONTEXT_FIRST = re.compile(r"^\W*for\s+[^,?]+,\s*(?=\S)", re.IGNORECASE)


def _context_dropped(question: str) -> str:
    """The question without a setting before it, when what follows is one clause ("For a
    trip-planning assistant, X or Y?"; not "For RL objectives, like A or B, is there ...?")."""
    rest = _CONTEXT_FIRST.sub("", question)
    return rest if rest != question and re.fullmatch(r"[^,;?]+\??\s*", _PARENTHESES.sub(" ", rest)) else question


_ASKED_AFTER_COLON = re.compile(r":\s+(?=(?:what|which|who|why|how|do|does|did|is|are|can|could)\b)", re.IGNORECASE)


def compare_sides(question: str, max_topic_words: int) -> tuple[str, ...]:
    """The two things a comparison names, when it names two: "X vs Y", "compare X and Y",
    "how does X differ from Y", "difference between X and Y". A side longer than
    `max_topic_words` (and not quoted) is kept only when no reading has shorter sides: the
    answerer takes it as a title said in its own words, or as the part before its purpose."""
    # "Fish (gradient matching) vs FAD (flatness-aware minimization)": a parenthesis says what a
    # side is, also when it lists ("(direct parameterization / sandwich layers)").
    question = _context_dropped(question)
    while (opened := re.sub(r"\(([^()]*)\)", lambda m: " " + _AFTERTHOUGHT.sub(" ", m.group(1)) + " ", question)) != question:
        question = opened  # innermost first: "(the O(k^-3) one)"
    # The comparison may follow what the papers share: "both are about X — how does A differ
    # from B?", "two takes on Y: A vs B".
    readings = [_sides_of(clause, max_topic_words) for clause in [question] + [question[m.end() :] for m in _LEAD_IN.finditer(question)]]
    short = [sides for sides, fits in readings if sides and fits]
    return short[0] if short else next((sides for sides, _ in readings if sides), ())


# Where a comparison can start after words that set it up; not a question of its own that
# follows ("online prediction for X: what regret vs the best linear predictor?").
_LEAD_IN = re.compile(r"(?:\s[-–—]\s|:\s)(?!\W*(?:what|what's|whats|which|who|why|when|where|is|are|was|were|do|does|did|can|could|should|would|will)\b)", re.IGNORECASE)


def _sides_of(clause: str, max_topic_words: int) -> tuple[tuple[str, ...], bool]:
    """(the sides of the first pattern that reads the clause, preferring short sides; whether
    they are short or quoted)."""
    clause = _AFTERTHOUGHT.split(clause, maxsplit=1)[0]  # "X vs Y — which is better for Z?"
    clause = _ASKED_AFTER_COLON.split(clause, maxsplit=1)[0]  # "X vs Y: what's different?"
    found: tuple[str, ...] = ()
    for pattern in _SIDES:
        match = pattern.match(clause)
        if match:
            sides = tuple(_SIDE_WORDS.sub("", " ".join(m.split()).strip(" '\"?")).strip(" '\"") for m in (match["a"], match["b"]))
            quoted = [re.match(r"\s*['\"‘“]\w", m) is not None for m in (match["a"], match["b"])]  # a quoted title
            if not all(sides):
                continue
            # "X or Y for cheaply adapting a vision model?": what for is no side
            short = all(q or len(side.split()) <= max_topic_words for side, q in zip(sides, quoted))
            if short or ((quoted[0] or len(sides[0].split()) <= max_topic_words) and shorter_side(sides[1], max_topic_words)):
                return sides, True
            found = found or sides
    return found, False


def shorter_side(side: str, max_topic_words: int) -> str:
    """A long side without what it is for: "Y for cheaply adapting a vision model" compares Y.
    Empty when that is still too long. Not a condition: "X vs Y when the backbone is a lottery
    ticket — any study?" asks for one paper that compares them (kinds-test14)."""
    if len(side.split()) <= max_topic_words:
        return side
    before = _SIDE_WORDS.sub("", re.split(r"\s+for\s+", side, maxsplit=1)[0])
    return before if len(before.split()) <= max_topic_words else ""


def find_topic(text: str, max_topic_words: int) -> tuple[str, str]:
    """(topic, the words around it) when the text asks for papers on a topic, else ("", "")."""
    match = _FIND.match(text)
    if match:
        topic, asked = clean_topic(text[match.end() :]), text[: match.end()]
        if re.search(r"[:–—-]\s*$", asked) and topic:  # "lit review: X": a heading that asks, whatever follows
            return topic, asked
    else:
        head = _AFTERTHOUGHT.split(text, maxsplit=1)[0]  # "any ML for biology papers - proteins, DNA?"
        # "recurrent nets - what's in the pile? memory limits, ...": the request ends at its "?"
        match = _FIND_BEFORE.match(text) or (_PLURAL_REQUEST.search(head) and _FIND_BEFORE.match(head)) or _FIND_BEFORE.match(text.split("?", 1)[0])
        if not match:
            return "", ""
        topic = clean_topic(match.group("topic") or match.group("topic2"))
        asked = text.replace(topic, " ")
        if _QUESTION_WORD.match(topic):  # "how many were used in the papers?"
            return "", ""
        # "new speech separation papers? (music, voices, anything)": the request is in the head
        inner = _FIND_BEFORE.match(_AFTERTHOUGHT.split(topic, maxsplit=1)[0])
        if inner and inner.group("topic"):
            topic = clean_topic(inner.group("topic"))
            asked = text.replace(topic, " ")
    if topic and _too_long(topic, max_topic_words):
        # "X (a, b, c) run in parallel": the aside goes; "newton-type methods? damped newton,
        # cubic reg, that kind of thing": the head
        topic = clean_topic(_PARENTHESES.sub(" ", topic))
        if _too_long(topic, max_topic_words):
            # "lit review time - LLM unlearning + model editing": a head that names the reading is the request
            pieces = _AFTERTHOUGHT.split(topic, maxsplit=1)
            request_first = len(pieces) == 2 and _ONLY_A_REQUEST.fullmatch(pieces[0].strip())
            topic = clean_topic(_AFTERTHOUGHT.split(pieces[1], maxsplit=1)[0] if request_first else pieces[0])
    if topic and not _too_long(topic, max_topic_words):
        return topic, asked
    if _PLURAL_REQUEST.search(asked) and 0 < len(topic.split()) <= 2 * max_topic_words and not _SECOND_QUESTION.search(topic):
        return topic, asked
    return "", ""


# A short heading, a colon, then two or more facets (commas) and no question: "classical learning
# theory pls: VC dimension, fat-shattering, sample compression schemes".
_FACETS = re.compile(r"^\W*(?:@\w+\s+)?(?P<head>[^:?\n]+?)\s*(?:\b(?:pls|please|plz)\b)?\s*:\s*(?P<facets>[^?]+?)\W*$", re.IGNORECASE)


def _facets_topic(text: str, max_topic_words: int) -> str:
    """The heading of a message that names a topic and lists its facets, asking nothing; else ""."""
    match = _FACETS.match(text)
    if not match or "?" in text or match.group("facets").count(",") < 1:
        return ""
    head = clean_topic(match.group("head"))
    if not head or _QUESTION_WORD.match(head) or _too_long(head, max_topic_words):
        return ""
    return head


# A head that only says what the asker is doing: "lit review time 📚", "reading list:".
_ONLY_A_REQUEST = re.compile(rf"\W*{_PAPERS}(?:\s+(?:time|pls|please|request|needed|wanted))?\W*", re.IGNORECASE)


def _too_long(topic: str, max_topic_words: int) -> bool:
    return len(topic.split()) > max_topic_words or bool(_CLAUSE.search(topic))


# A name after one of these is what the question measures against, not what it is about:
# "how well does it do on FOLIO?", "is it faster than FOSI?".
_OBJECT_WORDS = {"on", "against", "than", "over", "vs", "versus", "with", "to", "beat", "beats", "outperform", "outperforms"}


def names_only_as_objects(question: str, names: NameIndex) -> bool:
    """Every paper name in the question comes after "on", "than", "against"...: in a thread,
    "how well does it do on FOLIO?" is still about the thread's paper."""
    words = question_words(question)
    matches = names.find(question)
    return bool(matches) and all(m.start > 0 and words[m.start - 1].lower() in _OBJECT_WORDS for m in matches)


def _unnamed_words(words: list[str], matches: list[NameMatch]) -> list[str]:
    named = {i for m in matches for i in range(m.start, m.end)}
    return [w for i, w in enumerate(words) if i not in named]


def asks_about_whole(text: str) -> bool:
    """Nothing but "what is", "tell me more about", "summary": a question about a paper as a whole."""
    return not _content(question_words(text))


def _content(words: list[str]) -> list[str]:
    return [w for w in words if w.lower().strip("'’") not in _EXPLAIN_WORDS and not _GREETING.fullmatch(w)]
