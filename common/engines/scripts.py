"""Keep the recogniser's output to the scripts a document is written in (``LITE_SCRIPT``).

rapidocr 3.10 ships one recognition model (PP-OCRv6 small), trained on Chinese, Japanese and
Latin text alike, and no Latin-only model inside its wheel; on Latin pages it now and then reads
a mark or a smudge as 二, は or 厅, or an "l" as "í". With ``LITE_SCRIPT=latin`` (the default):

- characters of other scripts are dropped (letters, CJK punctuation, kana, hangul); full-width
  forms become their ASCII twins, a CJK "一" between words is the dash it stands for, and
  Cyrillic letters that look like Latin ones become those;
- on a page with (almost) no accented letters, a word whose accented letter makes it no word at
  all is mended when a look-alike makes it one ("pharmaceuticaís" -> "pharmaceuticals").

Latin letters of every language (é, ß, ł, ...), digits, punctuation, symbols and Greek (used in
formulas and units) stay. ``LITE_SCRIPT=all`` keeps whatever the recogniser read.
"""

from __future__ import annotations

import unicodedata

from common.layout.words import is_word

_CONFUSABLES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "І": "I",
    "一": "—", "丨": "|", "・": "·", "、": ",", "。": ".", "「": '"', "」": '"', "『": '"', "』": '"',
})
# Accented letters the recogniser puts in place of a plain one, and what they may stand for.
_LOOK_ALIKES = {"í": "li", "ì": "li", "ï": "il", "î": "i", "ĺ": "l", "ł": "l", "é": "e", "è": "e",
                "á": "a", "à": "a", "ó": "o", "ò": "o", "ú": "u", "ù": "u", "ç": "c", "ñ": "n"}
# Accented letters per letter below which a page is taken to have none of its own.
ACCENT_SHARE = 0.002


def keep_latin(text: str) -> str:
    """``text`` without characters of non-Latin scripts (see the module's docstring)."""
    text = text.translate(_CONFUSABLES)
    kept = "".join(_latin_char(char) for char in text)
    return " ".join(kept.split()) if kept != text else kept


def is_latin(char: str) -> bool:
    """Whether ``keep_latin`` keeps ``char`` as it is (the lite reader's Latin vocabulary)."""
    return char.translate(_CONFUSABLES) == char and _latin_char(char) == char


def _east_asian(char: str) -> bool:
    """East Asian blocks whose punctuation and symbols have no script in their names (〈, 【, ㈱)."""
    return "\u2e80" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" or "\uf900" <= char <= "\ufaff" \
        or "\ufe30" <= char <= "\ufe4f" or "\uff00" <= char <= "\uffef"


def _latin_char(char: str) -> str:
    if char.isascii():
        return char
    if "\uff01" <= char <= "\uff5e":  # full-width ASCII
        return unicodedata.normalize("NFKC", char)
    name = unicodedata.name(char, "")
    category = unicodedata.category(char)
    if category.startswith("L") or category.startswith("M"):
        return char if name.startswith(("LATIN", "GREEK", "COMBINING")) else " "
    if any(word in name for word in ("CJK", "IDEOGRAPHIC", "HIRAGANA", "KATAKANA", "HANGUL",
                                     "FULLWIDTH", "HALFWIDTH", "BOPOMOFO", "KANGXI")) or _east_asian(char):
        return " "
    return char  # digits, punctuation, symbols, spaces of any script


def mend_accents(texts: list[str]) -> list[str]:
    """On a page without accented letters of its own, mend words a stray accent broke."""
    letters = sum(char.isalpha() for text in texts for char in text)
    accented = [char for text in texts for char in text if char in _LOOK_ALIKES]
    if not accented or len(accented) > ACCENT_SHARE * letters + 1:
        return texts
    return [" ".join(_mend_word(token) for token in text.split(" ")) for text in texts]


def _mend_word(token: str) -> str:
    core = token.strip(".,;:!?\"'()[]{}")
    if not any(char in _LOOK_ALIKES for char in core) or is_word(core):
        return token
    for index, char in enumerate(core):
        for plain in _LOOK_ALIKES.get(char, ""):
            candidate = core[:index] + plain + core[index + 1:]
            if is_word(candidate):
                return token.replace(core, candidate, 1)
    return token
