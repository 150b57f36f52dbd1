"""A paper's listing details come from its record, and a missing one is said to be missing."""

from datetime import date

from rag.answer.details import authors_text, details_text
from rag.records import Paper

LISTED = Paper(paper_id="2402.15319", title="GPTVQ: The Blessing of Dimensionality for LLM Quantization", abstract="We quantize LLMs.",
               authors=["Mart van Baalen", "Andrey Kuzmin", "Markus Nagel"], published=date(2024, 2, 23))
BARE = Paper(paper_id="t-0123456789abcdef", title="FOSI: Hybrid First and Second Order Optimization", abstract="We present FOSI.")


def test_details_come_from_the_record():
    assert details_text(LISTED, "authors") == "*GPTVQ: The Blessing of Dimensionality for LLM Quantization* is by Mart van Baalen, Andrey Kuzmin and Markus Nagel."
    assert details_text(LISTED, "date").startswith("*GPTVQ: The Blessing of Dimensionality for LLM Quantization* was published on 2024-02-23.")
    assert details_text(LISTED, "link") == "*GPTVQ: The Blessing of Dimensionality for LLM Quantization*: https://arxiv.org/abs/2402.15319"


def test_a_detail_the_listing_lacks_is_said_to_be_missing_not_guessed():
    assert details_text(BARE, "authors") == "The listing I read *FOSI: Hybrid First and Second Order Optimization* from names no authors."
    assert details_text(BARE, "date").startswith("The listing I read *FOSI: Hybrid First and Second Order Optimization* from gives no publication date. I first saw it on ")
    assert details_text(BARE, "link") == "I have no link for *FOSI: Hybrid First and Second Order Optimization*: the listing I read it from gives none."


def test_many_authors_are_cut_to_the_first_few():
    assert authors_text(["A"]) == "A"
    assert authors_text(["A", "B"]) == "A and B"
    assert authors_text([f"A{i}" for i in range(9)]) == "A0, A1, A2, A3, A4 and 4 others"
