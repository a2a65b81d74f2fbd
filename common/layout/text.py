"""A block's rows to text: paragraphs, wrapped lines joined, line-end hyphens and dashes mended,
tables kept as rows."""

from __future__ import annotations

from collections import Counter

from common.layout.geometry import Line, Page, Row, group_rows
from common.layout.tables import is_table_row, table_runs
from common.layout.words import is_word

# Words that keep their hyphen when split at a line end: compounds, not syllables.
_COMPOUND_PREFIXES = frozenset(
    "non self well cross ex half all quasi semi multi co anti pre post ill long short high low "
    "full two three four five six seven eight nine ten one first second third".split()
)
# A line-end hyphen before one of these was a dash the recogniser read as a hyphen
# ("shoots-" + "he"): no syllable break leaves such a word behind.
_FUNCTION_WORDS = frozenset(
    "a an the he she it i we you they his her its our their him them me us and but or nor so yet "
    "to of in on at by for with as that this then there was is are were be not no if".split()
)
_LINE_END_HYPHENS = ("-", "\u00ad", "\u2010", "\u2011", "¬")


def block_texts(lines: list[Line], page: Page, vocabulary: Counter[str]) -> list[str]:
    """A block as paragraphs of text; runs of table rows become markdown tables or row lines."""
    rows = group_rows(lines)
    texts = []
    for run, table in table_runs(rows):
        if table is not None:
            texts.append(table)
        else:
            texts += [render_paragraph(paragraph, vocabulary) for paragraph in _paragraphs(run, page)]
    return texts


def _paragraphs(rows: list[Row], page: Page) -> list[list[Row]]:
    """Rows split into paragraphs at gaps, indents, short last lines and size changes."""
    left = min(row.x0 for row in rows)
    right = max(row.x1 for row in rows)
    paragraphs = [[rows[0]]]
    for above, row in zip(rows, rows[1:]):
        if _starts_paragraph(above, row, left, right):
            paragraphs.append([row])
        else:
            paragraphs[-1].append(row)
    return paragraphs


def _starts_paragraph(above: Row, row: Row, left: float, right: float) -> bool:
    unit = min(above.height, row.height)
    if row.y0 - above.y1 > 0.6 * unit:
        return True
    if abs(row.height - above.height) > 0.25 * max(row.height, above.height):
        return True
    hanging = any(abs(line.x0 - row.x0) < 0.5 * unit for line in above.lines)  # "a.  text"
    indented = row.x0 - left > unit and above.x0 - left < 0.5 * unit and not hanging
    ended_short = right - above.x1 > 0.15 * (right - left) and above.text.rstrip()[-1:] in ".!?:"
    return indented or ended_short


def render_paragraph(rows: list[Row], vocabulary: Counter[str]) -> str:
    """Wrapped rows joined into one line of text; table-like rows keep a line each."""
    text = ""
    for index, row in enumerate(rows):
        if index == 0:
            text = row.text
        elif is_table_row(row) or is_table_row(rows[index - 1]):
            text += "\n" + row.text
        else:
            text = join_wrapped(text, row.text, vocabulary)
    return text


def join_wrapped(before: str, after: str, vocabulary: Counter[str]) -> str:
    """Join a line to the next one, mending a word hyphenated across the line end."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after:
        return before + after
    if before.endswith(("—", "–")) and not before[:-1].endswith(" "):
        return before + after
    if not before.endswith(_LINE_END_HYPHENS) or not before[-2:-1].isalpha():
        return before + " " + after
    stem = before[:-1].rsplit(None, 1)[-1]
    tail = after.split(None, 1)[0]
    if not after[0].islower():
        return before[:-1] + "-" + after  # COVID-19, Anglo-Saxon: a hyphen, not a syllable break
    return before[:-1] + _line_end_mark(stem, tail, vocabulary) + after


def _line_end_mark(stem: str, tail: str, vocabulary: Counter[str]) -> str:
    """What a line-end hyphen between ``stem`` and ``tail`` stands for: "-", "—" or nothing."""
    word, tail_word = _word(stem), _word(tail)
    if f"{word}-{tail_word}" in vocabulary:
        return "-"
    if f"{word}{tail_word}" in vocabulary:
        return ""
    if "-" in word or word in _COMPOUND_PREFIXES:
        return "-"
    if is_word(word + tail_word) or not (is_word(word) and is_word(tail_word)):
        return ""  # a syllable break: "exam-" + "ple", "informa-" + "tion"
    if tail_word in _FUNCTION_WORDS and word not in _FUNCTION_WORDS:
        return "—"  # "shoots-" + "he": a dash
    if stem[:1].isupper() or len(tail_word) > 3:
        return "-"  # two words that make no word together: "English-speaking", "cost-effective"
    return ""


def page_vocabulary(lines: list[Line]) -> Counter[str]:
    """Lower-case words (hyphenated ones whole) the page spells out, line-end breaks aside, with
    how often it does."""
    return Counter(
        _word(token)
        for line in lines
        for token in line.text.split()
        if not token.endswith(_LINE_END_HYPHENS)
    )


def _word(token: str) -> str:
    return token.strip(".,;:!?\"'()[]{}“”‘’").lower()

