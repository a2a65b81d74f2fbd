"""LITE_SCRIPT (issue 16, item 5): the default keeps other scripts out of Latin pages.

The engine test draws a page whose marks the bundled recogniser (trained on Chinese, Japanese
and Latin text) reads as 二 and 三 between English words.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw

from common.config import ConfigError, Settings
from common.engines.scripts import is_latin, mend_accents
from tests.pages import font


def bars_page() -> Image.Image:
    """'Chapter <two bars> begins ...' and 'Chapter <three bars> begins ...'."""
    page = Image.new("RGB", (1240, 600), "white")
    draw = ImageDraw.Draw(page)
    for index, bars in enumerate(((8, 30), (4, 18, 33))):
        y = 120 + index * 120
        draw.text((100, y), "Chapter", fill="black", font=font(36))
        for offset in bars:
            inset = 6 if offset < 30 else 0
            draw.rectangle([260 + inset, y + 2 + offset, 294 - inset, y + 5 + offset], fill="black")
        draw.text((320, y), "begins with the rules", fill="black", font=font(36))
    return page


@pytest.fixture(scope="module")
def readings() -> dict[str, str]:
    from common.engines.lite import LiteEngine

    page = bars_page()
    return {
        script: " ".join(line.text for line in LiteEngine(Settings.from_env({"LITE_SCRIPT": script})).read_lines(page))
        for script in ("latin", "all")
    }


def test_default_latin_keeps_cjk_out_of_a_latin_page(readings):
    assert Settings.from_env({}).lite_script == "latin"
    text = readings["latin"]
    assert not any("\u2e80" <= char <= "\u9fff" for char in text)
    # The bars read as nothing or as one Latin mark they resemble ("_", "=", "≡", "E"), the words
    # intact; the mark may come out glued to the next word ("Ebegins": the box a pixel wider or not).
    assert re.fullmatch(r"(Chapter (\S ?)?begins with the rules ?){2}", text), text


def test_all_keeps_what_the_recogniser_read(readings):
    assert any("\u2e80" <= char <= "\u9fff" for char in readings["all"])


def test_bad_value_is_refused():
    with pytest.raises(ConfigError, match="LITE_SCRIPT"):
        Settings.from_env({"LITE_SCRIPT": "klingon"})


@pytest.mark.parametrize("char", ["a", "é", "ß", "ł", "μ", "α", "Σ", "±", "°", "€", "—", "“", "%", "7"])
def test_latin_vocabulary_keeps(char):
    assert is_latin(char)


@pytest.mark.parametrize("char", ["は", "厅", "二", "一", "한", "〈", "【", "、", "Ｔ", "１", "о", "д"])
def test_latin_vocabulary_leaves_out(char):
    """Kana, CJK, hangul, East Asian punctuation and full-width forms; Cyrillic letters, even one
    that looks like a Latin "o"."""
    assert not is_latin(char)


def test_stray_accent_mended_on_a_page_without_accents():
    page = ["The pharmaceuticaís industry grew fast in the last ten years",
            "and most of its products are sold in many countries now."]
    assert mend_accents(page)[0] == "The pharmaceuticals industry grew fast in the last ten years"


def test_a_stray_accent_for_another_letter_is_mended_to_the_word_it_makes():
    page = ["The tobacco company calls it responsible, rendering CSR an oxómoron.",
            "Its critics say the same of the whole industry and its products."]
    assert mend_accents(page)[0] == "The tobacco company calls it responsible, rendering CSR an oxymoron."
    # No letter makes a word of it: the token stays as read.
    assert mend_accents(["Shares of Qxóbrv rose in the last ten years", *page[1:]])[0].split()[2] == "Qxóbrv"


def test_accents_of_a_french_page_stay():
    page = ["Le café était fermé à midi, après la pluie.", "Les élèves sont allés à l'école."]
    assert mend_accents(page) == page
