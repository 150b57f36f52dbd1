"""Grounded answers, one stage per module, in the order a question goes through them.

question (prepare it, read its kind) -> followup (does it continue the thread?) ->
retrieve (search, retrieval features) -> decide (does a paper answer? the judge) ->
select (the sources and sentences shown, the evidence quoted) -> prompt -> generate ->
ground (keep what the sources support, check citations). `answerer.Answerer` runs them;
`lists` answers "any papers on X?", `named` explains or compares papers by name, `details`
gives a paper's authors, date or link, and `choose` picks among papers listed before ("which
of them needs no training?").
Shared by the stages: `sentences` (each paper's sentence vectors, read once), `names` (the
exact name index), `judge` (the yes/no model call) and `timing`.
"""
