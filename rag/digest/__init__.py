"""The daily digest: the papers new since the last posted digest, one line each, grouped
into at most `digest.max_themes` themes, the papers that fit the team first ("For you":
they match `digest.interests`, or resemble a paper cited by an answer someone gave 👍),
with a short highlights paragraph. Used by `paperbot digest`, the scheduler and
`/papers digest`; none of them holds digest logic of its own.

Pipeline (`build.build_digest`): window -> papers (SQLite) -> vectors (Chroma) -> themes
(`themes`, named by `keywords`) -> theme labels (`labels`: model, cached, checked; else
the keyword label) -> ranking (`ranking`: interests and liked papers vs. paper vectors)
-> one-liners (`oneliners`: model, cached, checked by `faithfulness`) -> highlights
(`highlights`: a template over the ranking and the checked one-liners; no abstract
text). `digest.model` chooses the model that writes labels and one-liners (`writer`).
"""
