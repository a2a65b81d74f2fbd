"""A PDF page's own text layer: its characters with positions, grouped into lines, and whether
the page can be read from it instead of being OCR'd.

The lines go through ``common.layout.assemble_page``, the same reading-order, paragraph and
running header/footer logic the OCR engines feed, so a page reads the same whichever way it was
read. Coordinates are PDF points turned to the page as displayed (crop box, /Rotate), y down.

Whether a page's text layer is usable is decided per page, by ``judge`` (the README lists the
rules). The decisions are page-level: a page whose images cover most of it is OCR'd whole (the
render holds the page's text as well as the images'), and a born-digital page with a small
picture of text keeps its text layer and leaves the picture unread.
"""

from __future__ import annotations

import ctypes
import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pypdfium2.raw as pdfium_c

from common.engines.base import PageText
from common.layout import Line, assemble_page

# A page needs this many visible characters to be read from its text layer when it also draws
# pictures or many shapes: a scan with a stamped page number, text drawn as outlines.
MIN_CHARS = 40
# Shapes (paths) count as "drawing" from this many on: rules and table borders are fewer.
MANY_PATHS = 50
# Images covering this share of the page make it an image page: OCR'd whole.
IMAGE_PAGE_SHARE = 0.5
# Below MIN_CHARS, images covering this share make the page a picture rather than a blank page.
SOME_IMAGE_SHARE = 0.1
# Invisible text (render mode 3 or 7) making up this share of the characters, over images
# covering IMAGE_PAGE_SHARE of the page, is an OCR layer a scanner or OCR tool left.
OCR_LAYER_SHARE = 0.5
# Characters that are not text (unmapped glyphs, private use, U+FFFD, control characters,
# "(cid:NN)" runs) over this share of the page's characters make its text layer unusable.
BAD_CHAR_SHARE = 0.05
# Fonts without a usable ToUnicode map often yield valid but meaningless symbols: a page whose
# non-space characters are less than this share letters, digits or punctuation is garbage.
MIN_WORDLIKE_SHARE = 0.5
# Characters further apart than this many line heights are separate pieces (table cells, columns).
PIECE_GAP = 1.0
# A space pdfium generated around an accent drawn apart from its letter (TeX's "Min\'a\v{c}") is
# dropped when the characters on either side are closer than this (line heights).
JOINED_GAP = 0.1
# Spacing accents TeX and others draw as a glyph of their own over the letter: put back on it.
_ACCENTS = {"\u00b4": "\u0301", "\u00a8": "\u0308", "\u00af": "\u0304", "\u00b8": "\u0327",
            "\u02c6": "\u0302", "\u02c7": "\u030c", "\u02d8": "\u0306", "\u02d9": "\u0307",
            "\u02da": "\u030a", "\u02db": "\u0328", "\u02dc": "\u0303", "\u02dd": "\u030b"}

_INVISIBLE_MODES = (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP)
_CID = re.compile(r"\(cid:\d+\)")
_LIGATURES = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
_GRID = 64  # image coverage is measured on a GRID x GRID raster of the page


@dataclass
class PageLayer:
    """What a page's text layer holds, measured once; ``judge`` decides from it."""

    width: float  # as displayed, in points
    height: float
    visible: list[Line]  # lines of the visible text
    everything: list[Line]  # lines of all text, invisible included (an OCR layer's, when trusted)
    chars: int  # visible non-space characters
    invisible_chars: int
    bad_chars: int  # not text (see BAD_CHAR_SHARE), visible or not
    wordlike_chars: int  # visible letters, digits, punctuation and ASCII
    image_share: float  # share of the page that images cover
    paths: int  # path objects, counted up to MANY_PATHS

    @property
    def has_ocr_layer(self) -> bool:
        """Mostly invisible text over a page image: what a scanner or an OCR tool leaves."""
        total = self.chars + self.invisible_chars
        return bool(total) and self.invisible_chars >= OCR_LAYER_SHARE * total and self.image_share >= IMAGE_PAGE_SHARE

    def page_text(self, ocr_layer: str = "redo") -> PageText:
        """The page, from its visible text; with PDF_OCR_LAYER=trust, an OCR layer's text too."""
        lines = self.everything if ocr_layer == "trust" and self.has_ocr_layer else self.visible
        return assemble_page(lines, self.width, self.height)


def judge(layer: PageLayer, ocr_layer: str = "redo") -> tuple[bool, str | None]:
    """(read from the text layer?, why not: "code: detail") for one page.

    ``ocr_layer`` is PDF_OCR_LAYER: ``redo`` OCRs a page whose text is an invisible layer over a
    page image; ``trust`` reads that layer like any other text.
    """
    total = layer.chars + layer.invisible_chars
    images = f"images cover {layer.image_share:.0%} of the page"
    drawing = layer.image_share >= SOME_IMAGE_SHARE or layer.paths >= MANY_PATHS
    ocr_layer_found = layer.has_ocr_layer
    if ocr_layer_found and ocr_layer == "redo":
        return False, (f"invisible_ocr_layer: {layer.invisible_chars / total:.0%} of its text is invisible "
                       f"over a page image ({images}); PDF_OCR_LAYER=redo")
    counted = total if ocr_layer_found else layer.chars
    wordlike = layer.wordlike_chars
    if not counted:
        if drawing:
            what = images if layer.image_share >= SOME_IMAGE_SHARE else f"it draws {layer.paths}+ shapes"
            return False, f"no_text: the page has no text layer and {what}"
        return True, None  # a blank page: nothing to OCR either
    if layer.bad_chars > BAD_CHAR_SHARE * counted and layer.bad_chars >= 3:
        return False, (f"bad_unicode: {layer.bad_chars} of {counted} characters are unmapped glyphs, "
                       "private-use, replacement or control characters")
    if counted >= MIN_CHARS and not ocr_layer_found and wordlike < MIN_WORDLIKE_SHARE * counted:
        return False, (f"bad_unicode: only {wordlike} of {counted} characters are letters, digits or "
                       "punctuation (a font without a usable ToUnicode map)")
    if ocr_layer_found:
        return True, None  # PDF_OCR_LAYER=trust
    if layer.image_share >= IMAGE_PAGE_SHARE:
        return False, f"images_cover_page: {images}"
    if counted < MIN_CHARS and drawing:
        what = images if layer.image_share >= SOME_IMAGE_SHARE else f"it draws {layer.paths}+ shapes"
        return False, f"too_little_text: {counted} characters while {what}"
    return True, None


def read_layer(page) -> PageLayer:
    """Measure a pypdfium2 ``PdfPage``'s text layer. The caller holds pdfium's lock."""
    frame = _Frame(page)
    drawn = _drawn(page, frame)
    textpage = page.get_textpage()
    try:
        visible, everything, counts = _lines(textpage, frame, drawn)
    finally:
        textpage.close()
    return PageLayer(frame.width, frame.height, visible, everything,
                     image_share=drawn.image_share, paths=drawn.paths, **counts)


class _Frame:
    """PDF user space -> the page as displayed: crop box origin, /Rotate, y down."""

    def __init__(self, page):
        self.left, self.bottom, self.right, self.top = page.get_cropbox()
        self.rotation = page.get_rotation() % 360
        w, h = self.right - self.left, self.top - self.bottom
        self.width, self.height = (h, w) if self.rotation in (90, 270) else (w, h)

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) on the displayed page."""
        corners = [self.point(x, y) for x in (left, right) for y in (bottom, top)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return min(xs), min(ys), max(xs), max(ys)

    def point(self, x: float, y: float) -> tuple[float, float]:
        if self.rotation == 90:
            return y - self.bottom, x - self.left
        if self.rotation == 180:
            return self.right - x, y - self.bottom
        if self.rotation == 270:
            return self.top - y, self.right - x
        return x - self.left, self.top - y


def _is_bad(char: str) -> bool:
    category = unicodedata.category(char)
    return char == "\ufffd" or category == "Co" or (category == "Cc" and char not in "\t\r\n")


def _is_wordlike(char: str) -> bool:
    return char.isascii() or char.isalnum() or unicodedata.category(char).startswith("P")


def _extend(run: "_Run | None", runs: list, char: str, box, angle: float, places: list) -> "_Run":
    """Add ``char`` to the open ``run`` if it continues it, else open a new run in ``runs``; the
    character's (run, index) goes to ``places``. Returns the run now open."""
    if run is not None and run.takes(box, angle):
        places.append((run, run.add(char, box)))
        return run
    run = _Run(char, box, angle)
    runs.append(run)
    places.append((run, 0))
    return run


class _Run:
    """Characters that read as one line piece: one direction, no wide gap."""

    def __init__(self, char: str, box, angle: int):
        self.text, self.angle = [char], angle
        self.x0, self.y0, self.x1, self.y1 = box
        self.last = box
        self.space: str | None = None  # a space waits for the next character: "real" or "generated"
        self.accent = False  # an accent was drawn since the last character

    def add_space(self, generated: bool) -> None:
        if self.space != "real":
            self.space = "generated" if generated else "real"

    def takes(self, box, angle: int) -> bool:
        if angle != self.angle:
            return False
        x0, y0, x1, y1 = box
        size = max(self.last[3] - self.last[1], y1 - y0) if angle == 0 else max(
            self.last[2] - self.last[0], x1 - x0)
        if angle == 0:  # same line: vertical overlap, next to the last character (either side: RTL)
            overlap = min(self.y1, y1) - max(self.y0, y0)
            gap = max(x0 - self.last[2], self.last[0] - x1)
            return overlap >= 0.5 * min(self.y1 - self.y0, y1 - y0) and gap <= PIECE_GAP * size
        # rotated text (a stamp up the margin): boxes next to each other
        gap_x = max(x0 - self.last[2], self.last[0] - x1)
        gap_y = max(y0 - self.last[3], self.last[1] - y1)
        return max(gap_x, gap_y) <= PIECE_GAP * size

    def add(self, char: str, box) -> int:
        """Append ``char``; returns its index in ``text``."""
        if self.space:
            gap = max(box[0] - self.last[2], self.last[0] - box[2]) if self.angle == 0 else 1e9
            if self.space == "real" or not self.accent or gap > JOINED_GAP * (box[3] - box[1]):
                self.text.append(" ")
            self.space = None
        self.accent = False
        self.text.append(char)
        self.x0, self.y0 = min(self.x0, box[0]), min(self.y0, box[1])
        self.x1, self.y1 = max(self.x1, box[2]), max(self.y1, box[3])
        self.last = box
        return len(self.text) - 1

    def line(self) -> Line:
        text = "".join(_LIGATURES.get(c, c) for c in self.text)
        # TeX typesets double quotes as two single ones (``...''); a reader sees double quotes.
        text = text.replace("\u2018\u2018", "\u201c").replace("\u2019\u2019", "\u201d")
        return Line(" ".join(text.split()), self.x0, self.y0, self.x1, self.y1)


def _lines(textpage, frame: _Frame, drawn: "_Drawn") -> tuple[list[Line], list[Line], dict]:
    """Lines of the visible text and of all text, and the character counts ``judge`` needs.

    One pass over pdfium's characters (in content order, with its own line breaks); the per-object
    questions (invisible? rotated?) are asked only on pages that have such objects, since every
    call into pdfium per character costs time on a page of thousands.
    """
    count = pdfium_c.FPDFText_CountChars(textpage)
    counts = {"chars": 0, "invisible_chars": 0, "bad_chars": 0, "wordlike_chars": 0}
    visible_runs: list[_Run] = []
    all_runs: list[_Run] = []
    open_visible = open_all = None
    modes: dict[int, bool] = {}  # text object address -> invisible?
    rect = pdfium_c.FS_RECTF()
    text_chars: list[str] = []
    accents: list[tuple[str, tuple]] = []
    letters: list[tuple[tuple, list]] = []
    get_unicode, get_box = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetLooseCharBox
    map_error = pdfium_c.FPDFText_HasUnicodeMapError
    for index in range(count):
        code = get_unicode(textpage, index)
        char = "-" if code == 2 else chr(code or 0xFFFD)  # 2: pdfium's mark for a line-end hyphen
        if char in "\r\n" and pdfium_c.FPDFText_IsGenerated(textpage, index):
            open_visible = open_all = None  # pdfium's own line break
            continue
        invisible = False
        if drawn.invisible_text:
            obj = pdfium_c.FPDFText_GetTextObject(textpage, index)
            key = ctypes.cast(obj, ctypes.c_void_p).value or 0
            if key not in modes:
                modes[key] = bool(obj) and pdfium_c.FPDFTextObj_GetTextRenderMode(obj) in _INVISIBLE_MODES
            invisible = modes[key]
        if char.isspace():
            generated = pdfium_c.FPDFText_IsGenerated(textpage, index) == 1
            if open_all is not None:
                open_all.add_space(generated)
            if open_visible is not None and not invisible:
                open_visible.add_space(generated)
            continue
        text_chars.append(char)
        counts["bad_chars"] += _is_bad(char) or map_error(textpage, index) == 1
        if invisible:
            counts["invisible_chars"] += 1
        else:
            counts["chars"] += 1
            counts["wordlike_chars"] += _is_wordlike(char)
        if not get_box(textpage, index, rect):
            continue
        box = frame.box(rect.left, rect.bottom, rect.right, rect.top)
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            continue
        angle = -frame.rotation % 360
        if drawn.rotated_text:
            radians = pdfium_c.FPDFText_GetCharAngle(textpage, index)  # counter-clockwise; -1: unknown
            degrees = round(math.degrees(radians) / 90) % 4 * 90 if radians >= 0 else 0
            angle = (degrees - frame.rotation) % 360  # as displayed; 0 reads left to right
        if char in _ACCENTS and angle == 0:
            accents.append((char, box))
            for run in (open_all, open_visible):
                if run is not None:
                    run.accent = True
            continue
        places = []  # where the character went: (run, index), for an accent to find it
        open_all = _extend(open_all, all_runs, char, box, angle, places)
        open_visible = None if invisible else _extend(open_visible, visible_runs, char, box, angle, places)
        if char.isalpha() and angle == 0:
            letters.append((box, places))
    _put_accents_back(accents, letters)
    # "(cid:12)" runs: what some producers write for glyphs they could not map.
    cids = _CID.findall("".join(text_chars))
    counts["bad_chars"] += sum(len(cid) for cid in cids)
    counts["wordlike_chars"] -= sum(len(cid) for cid in cids)
    return [run.line() for run in visible_runs], [run.line() for run in all_runs], counts


def _put_accents_back(accents: list[tuple[str, tuple]], letters: list[tuple[tuple, list]]) -> None:
    """Each spacing accent onto the letter under it (same line, its centre over the letter's
    box), as one precomposed character; an accent over no letter is dropped."""
    for accent, box in accents:
        centre = (box[0] + box[2]) / 2
        under = [
            (abs((x0 + x1) / 2 - centre), places) for (x0, y0, x1, y1), places in letters
            if x0 <= centre <= x1 and min(y1, box[3]) - max(y0, box[1]) >= 0.5 * min(y1 - y0, box[3] - box[1])
        ]
        if not under:
            continue
        for run, index in min(under, key=lambda found: found[0])[1]:
            letter = "i" if run.text[index] == "\u0131" else run.text[index]  # dotless i under an accent
            run.text[index] = unicodedata.normalize("NFC", letter + _ACCENTS[accent])


@dataclass
class _Drawn:
    image_share: float  # share of the page images cover
    paths: int  # up to MANY_PATHS
    invisible_text: bool  # some text object has render mode 3 or 7
    rotated_text: bool  # some text object is not upright in user space


def _drawn(page, frame: _Frame) -> _Drawn:
    """What the page draws besides text, and whether per-character questions need asking."""
    covered = np.zeros((_GRID, _GRID), dtype=bool)
    paths, invisible, rotated = 0, False, False
    kinds = [pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_TEXT]
    matrix = pdfium_c.FS_MATRIX()
    for obj in page.get_objects(filter=kinds, max_depth=3):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths = min(paths + 1, MANY_PATHS)
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            invisible = invisible or pdfium_c.FPDFTextObj_GetTextRenderMode(obj) in _INVISIBLE_MODES
            if not rotated and pdfium_c.FPDFPageObj_GetMatrix(obj, matrix):
                rotated = abs(matrix.b) > 1e-6 or abs(matrix.c) > 1e-6 or matrix.a < 0
        else:
            x0, y0, x1, y1 = frame.box(*obj.get_bounds())
            cols = slice(max(0, round(x0 / frame.width * _GRID)), min(_GRID, round(x1 / frame.width * _GRID)))
            rows = slice(max(0, round(y0 / frame.height * _GRID)), min(_GRID, round(y1 / frame.height * _GRID)))
            covered[rows, cols] = True
    return _Drawn(float(covered.mean()), paths, invisible, rotated)
