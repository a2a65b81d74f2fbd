"""Joining wrapped lines and mending words (issue 16, item 4).

An em-dash the recogniser read as a hyphen is not a syllable break, a capitalised word before a
line-end hyphen starts a compound (layout), and words the recogniser glued together are split
again where both halves are common words and the whole is no word (``mend_glued``, which the lite
engine runs on the recogniser's lines before layout).
"""

from __future__ import annotations

import pytest

from common.layout import assemble_page
from common.layout.words import mend_glued
from tests.layout_boxes import HEIGHT, WIDTH, column


def read(*texts: str) -> str:
    return assemble_page(column(list(texts), 80, 200, 600), WIDTH, HEIGHT).text


@pytest.mark.parametrize(
    "first, second, joined",
    [
        ("the striker turns and shoots-", "he scores again", "the striker turns and shoots—he scores again"),
        ("the striker turns and shoots—", "he scores again", "the striker turns and shoots—he scores again"),
        ("most people in English-", "speaking countries", "most people in English-speaking countries"),
        ("a piece of informa-", "tion was lost", "a piece of information was lost"),
        ("this is an exam-", "ple of mending", "this is an example of mending"),
    ],
)
def test_line_end_dashes_and_hyphens(first, second, joined):
    assert read(first, second) == joined


@pytest.mark.parametrize(
    "glued, spaced",
    [
        ("a result indicatingprocedures were followed", "a result indicating procedures were followed"),
        ("Theterm is defined below", "The term is defined below"),
    ],
)
def test_words_glued_by_the_recogniser_are_split(glued, spaced):
    assert mend_glued([glued]) == [spaced]


def test_a_glued_form_the_page_spells_twice_is_a_word():
    assert mend_glued(["the hashtag here", "and the hashtag there"]) == ["the hashtag here", "and the hashtag there"]


@pytest.mark.parametrize("text", ["Kirkland Lake Gold and Newmont", "the COVID-19 cases", "see www.example.org/abc",
                                  "Schwarzwald und Donaudampfschiff", "a cooperative agreement"])
def test_real_words_names_and_codes_are_left_alone(text):
    assert read(text) == text
    assert mend_glued([text]) == [text]


def test_lines_in_other_languages_are_not_split():
    german = "Allgemeine theorie der Gaußschen Summen in endlichen kommutativen Ringe"
    assert mend_glued([german]) == [german]
