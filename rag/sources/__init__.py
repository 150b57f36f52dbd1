"""Read paper listings into `Paper` records.

Three formats are understood, one module each, listed in `registry.FORMATS` (the one
place a new format is added):

- daily-paper listing dumps (plain text copied from the Hugging Face "Daily Papers" page): `listing`,
- the Hugging Face ``daily_papers`` API JSON: `hf_daily`,
- arXiv Atom feeds (``export.arxiv.org/api/query``): `arxiv_atom`.

Sources are user data, so parsers never raise on bad input: every problem becomes a
`SourceError` (with a line or entry number) and every good record is kept. Only
`http.fetch_url` raises (`FetchError`); `read.read_sources` turns that into an error entry
too. `daily` is `paperbot fetch`: one day's URLs of every fetchable format, ingested.
"""
