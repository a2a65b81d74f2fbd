"""An English word list with frequency ranks, for mending words the recogniser broke or glued.

``mend_glued`` is for recogniser output (the lite engine calls it before layout); a PDF's text
layer has its spaces and does not need it.

The list is wordninja's (MIT; 126 000 words from English Wikipedia, most frequent first), read
from the installed package's data file: nothing is downloaded, and wordninja's own module (which
builds a language model at import) is not imported.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

# Both halves of a glued word must be among this many most frequent words: rare entries of the
# list are names and fragments ("ple", "mont") that would split real words.
COMMON = 20_000
# A line is English when this share of its words (bar the glued one) are among the ENGLISH most
# frequent words of the list.
ENGLISH = 50_000
ENGLISH_SHARE = 0.75
# A capitalised glued token splits only after one of these ("Theterm"); any other capitalised
# word not in the list is more likely a name ("Newmont", "Barrick") than two words.
_LEADING = frozenset("the this that these those in of and for to it an a on at by as we our its "
                     "his her their there when where if".split())


@lru_cache(maxsize=1)
def ranks() -> dict[str, int]:
    """word -> rank (0 = most frequent); empty if wordninja is not installed."""
    spec = importlib.util.find_spec("wordninja")
    if spec is None or not spec.origin:
        return {}
    path = Path(spec.origin).parent / "wordninja" / "wordninja_words.txt.gz"
    if not path.is_file():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {word: rank for rank, word in enumerate(handle.read().split())}


def is_word(word: str, limit: int | None = None) -> bool:
    rank = ranks().get(word.lower())
    return rank is not None and (limit is None or rank < limit)


def split_glued(token: str) -> tuple[str, str] | None:
    """("The", "term") for "Theterm": two common words where the whole is no word at all."""
    if len(token) < 5 or not token.isalpha() or not token.isascii():
        return None
    if not (token.islower() or (token[0].isupper() and token[1:].islower())):
        return None  # ALLCAPS, iPhone, McDonald: not something to guess about
    if is_word(token):
        return None
    best = None
    for cut in range(2, len(token) - 1):
        head, tail = token[:cut], token[cut:]
        if token[0].isupper() and head.lower() not in _LEADING:
            continue
        if is_word(head, COMMON) and is_word(tail, COMMON) and min(len(head), len(tail)) >= (2 if head.lower() in _LEADING else 3):
            score = max(ranks()[head.lower()], ranks()[tail.lower()])
            if best is None or score < best[0]:
                best = (score, head, tail)
    return None if best is None else (best[1], best[2])


def mend_glued(texts: list[str]) -> list[str]:
    """Split words the recogniser glued in a page's ``texts`` ("Theterm" -> "The term"), unless the
    page spells the glued form twice or more (then it is a word the list does not know)."""
    counts: dict[str, int] = {}
    for text in texts:
        for token in text.split():
            word = core(token).lower()
            counts[word] = counts.get(word, 0) + 1
    mended = []
    for text in texts:
        if not _reads_as_english(text):
            mended.append(text)  # "Theorie der endlichen Ringe": no English words to find in it
            continue
        tokens = []
        for token in text.split(" "):
            word = core(token)
            parts = split_glued(word) if word and counts.get(word.lower(), 0) < 2 else None
            tokens.append(token.replace(word, " ".join(parts), 1) if parts else token)
        mended.append(" ".join(tokens))
    return mended


def _reads_as_english(text: str) -> bool:
    """Most of the line's other words are English words (two at least)."""
    known = [is_word(core(token), ENGLISH) for token in text.split() if core(token).isalpha()]
    return sum(known) >= 2 and sum(known) >= ENGLISH_SHARE * (len(known) - 1)


def core(token: str) -> str:
    """The token without the punctuation around it ("term," -> "term")."""
    return token.strip(".,;:!?\"'()[]{}“”‘’")
