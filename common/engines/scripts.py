"""The characters the lite reader may output with ``LITE_SCRIPT=latin``, and accent mending.

rapidocr 3.10 ships one recognition model (PP-OCRv6 small), trained on Chinese, Japanese and
Latin text alike, and no Latin-only model inside its wheel; on Latin pages it read a mark or a
smudge as 二, は or 厅, or an "l" as "í". With ``LITE_SCRIPT=latin`` (the default):

- the reader's vocabulary is cut to the characters ``is_latin`` accepts (``line_reader``):
  Latin letters of every language (é, ß, ł, ...), Greek (formulas, units), digits, punctuation
  and symbols; not letters of other scripts, kana, hangul, CJK punctuation or full-width forms,
  nor Cyrillic letters that look like Latin ones (the reader then picks the Latin one);
- on a page with (almost) no accented letters, a word whose accented letter makes it no word at
  all is mended when a look-alike makes it one ("pharmaceuticaís" -> "pharmaceuticals"), or else
  when another letter in its place makes it a common word ("oxómoron" -> "oxymoron").

``LITE_SCRIPT=all`` keeps the whole vocabulary and whatever the recogniser read.
"""

from __future__ import annotations

import string
import unicodedata

from common.layout.words import ENGLISH, core, is_word, ranks

# Accented letters the recogniser puts in place of a plain one, and what they may stand for.
_LOOK_ALIKES = {"í": "li", "ì": "li", "ï": "il", "î": "i", "ĺ": "l", "ł": "l", "é": "e", "è": "e",
                "á": "a", "à": "a", "ó": "o", "ò": "o", "ú": "u", "ù": "u", "ç": "c", "ñ": "n"}
# Accented letters per letter below which a page is taken to have none of its own.
ACCENT_SHARE = 0.002


def is_latin(char: str) -> bool:
    """Whether the lite reader may output ``char`` with ``LITE_SCRIPT=latin``."""
    if char.isascii():
        return True
    if _east_asian(char):
        return False
    name = unicodedata.name(char, "")
    if unicodedata.category(char)[0] in "LM":  # letters and marks: Cyrillic "о" is not Latin "o"
        return name.startswith(("LATIN", "GREEK", "COMBINING"))
    # Digits, punctuation, symbols and spaces of any script, but East Asian forms.
    return not any(word in name for word in ("CJK", "IDEOGRAPHIC", "HIRAGANA", "KATAKANA", "HANGUL",
                                             "FULLWIDTH", "HALFWIDTH", "BOPOMOFO", "KANGXI"))


def _east_asian(char: str) -> bool:
    """East Asian blocks whose punctuation and symbols have no script in their names (〈, 【, ㈱)."""
    return "\u2e80" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" or "\uf900" <= char <= "\ufaff" \
        or "\ufe30" <= char <= "\ufe4f" or "\uff00" <= char <= "\uffef"


def mend_accents(texts: list[str]) -> list[str]:
    """On a page without accented letters of its own, mend words a stray accent broke."""
    letters = sum(char.isalpha() for text in texts for char in text)
    accented = [char for text in texts for char in text if char in _LOOK_ALIKES]
    if not accented or len(accented) > ACCENT_SHARE * letters + 1:
        return texts
    return [" ".join(_mend_word(token) for token in text.split(" ")) for text in texts]


def _mend_word(token: str) -> str:
    word = core(token)
    if not any(char in _LOOK_ALIKES for char in word) or is_word(word):
        return token
    for index, char in enumerate(word):
        for plain in _LOOK_ALIKES.get(char, ""):
            candidate = word[:index] + plain + word[index + 1:]
            if is_word(candidate):
                return token.replace(word, candidate, 1)
    # No look-alike makes it a word: the accent stands for another letter the reader got wrong
    # ("oxómoron"); the most frequent common word one plain letter in its place makes, if any.
    candidates = [word[:index] + plain + word[index + 1:] for index, char in enumerate(word)
                  if char in _LOOK_ALIKES for plain in string.ascii_lowercase]
    known = [candidate for candidate in candidates if is_word(candidate, ENGLISH)]
    if not known:
        return token
    return token.replace(word, min(known, key=lambda candidate: ranks()[candidate.lower()]), 1)
