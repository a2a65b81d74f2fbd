"""PDFs the tests write byte by byte: text in a real PDF font, page images, invisible text, and
fonts whose ToUnicode map is broken, each exactly where a test needs it.

Hand-written so that every kind of page the text-layer rules tell apart can be made offline
without a PDF library: the text is Helvetica (one of the 14 standard fonts every reader has),
images are JPEG (DCTDecode) XObjects.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image

# Fonts a page may use. "broken_pua" and "broken_symbols" draw Helvetica glyphs, but their
# ToUnicode maps send every code to private-use code points / to dingbat-like symbols: what a
# subset font with a bad map gives a text extractor.
FONTS = ("helvetica", "broken_pua", "broken_symbols")


@dataclass
class PdfPage:
    width: float = 612.0
    height: float = 792.0
    ops: list[bytes] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)  # JPEG bytes, /Im0, /Im1, ...
    sizes: list[tuple[int, int]] = field(default_factory=list)
    fonts: set[str] = field(default_factory=set)
    rotate: int = 0  # /Rotate: the viewer turns the page this many degrees clockwise

    def text(self, x: float, top: float, text: str, size: float = 11, font: str = "helvetica",
             invisible: bool = False) -> "PdfPage":
        """``text`` with its baseline ``top`` points below the page's top edge."""
        self.fonts.add(font)
        mode = 3 if invisible else 0
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        self.ops.append(
            f"BT /{font} {size} Tf {mode} Tr {x:.2f} {self.height - top:.2f} Td (".encode()
            + escaped.encode("cp1252") + b") Tj ET"
        )
        return self

    def upright_text(self, x: float, top: float, text: str, size: float = 11) -> "PdfPage":
        """On a page with ``rotate=90``: ``text`` drawn turned 90 degrees counter-clockwise, so
        that it reads upright once the viewer turns the page; (x, top) are measured on the page
        as displayed (its width is the mediabox height)."""
        self.fonts.add("helvetica")
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        # displayed (x, y down) -> user space: x_user = y_displayed, y_user = x_displayed
        self.ops.append(f"BT /helvetica {size} Tf 0 1 -1 0 {top:.2f} {x:.2f} Tm (".encode()
                        + escaped.encode("cp1252") + b") Tj ET")
        return self

    def lines(self, x: float, top: float, lines: list[str], size: float = 11, leading: float = 1.35,
              **options) -> "PdfPage":
        for index, line in enumerate(lines):
            self.text(x, top + index * size * leading, line, size, **options)
        return self

    def image(self, picture: Image.Image, x: float, top: float, width: float, height: float) -> "PdfPage":
        """``picture`` stretched over the box whose top-left corner is (x, top) below the top edge."""
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=90)
        name = f"Im{len(self.images)}"
        self.images.append(buffer.getvalue())
        self.sizes.append(picture.size)
        self.ops.append(
            f"q {width:.2f} 0 0 {height:.2f} {x:.2f} {self.height - top - height:.2f} cm /{name} Do Q".encode()
        )
        return self


def _cmap(target) -> bytes:
    """A ToUnicode CMap sending each code 0x20-0x7E to ``target(code)``."""
    entries = b"".join(f"<{code:02X}> <{target(code):04X}>\n".encode() for code in range(0x20, 0x7F))
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Broken def /CMapType 2 def\n1 begincodespacerange <00> <FF> endcodespacerange\n"
        + f"{0x7F - 0x20} beginbfchar\n".encode() + entries
        + b"endbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end\n"
    )


_BROKEN_MAPS = {
    "broken_pua": lambda code: 0xE000 + code,  # private use
    "broken_symbols": lambda code: 0x2190 + code % 0x60,  # arrows and math operators
}


def build_pdf(pages: list[PdfPage]) -> bytes:
    """The PDF file of ``pages``, in order."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree; filled in at the end

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: bytes = b"", compress: bool = True) -> bytes:
        if compress:
            data, extra = zlib.compress(data), extra + b" /Filter /FlateDecode"
        return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"

    font_ids: dict[str, int] = {}
    for font in sorted({font for page in pages for font in page.fonts}):
        body = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"
        if font in _BROKEN_MAPS:
            body += b" /ToUnicode %d 0 R" % add(stream(_cmap(_BROKEN_MAPS[font])))
        font_ids[font] = add(body + b" >>")
    kids = []
    for page in pages:
        images = []
        for data, (width, height) in zip(page.images, page.sizes):
            extra = (f" /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB "
                     f"/BitsPerComponent 8 /Filter /DCTDecode").encode()
            images.append(add(stream(data, extra, compress=False)))
        contents = add(stream(b"\n".join(page.ops)))
        fonts = b" ".join(b"/%s %d 0 R" % (name.encode(), font_ids[name]) for name in sorted(page.fonts))
        xobjects = b" ".join(b"/Im%d %d 0 R" % (i, ref) for i, ref in enumerate(images))
        kids.append(add(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Rotate %d /Contents %d 0 R "
            b"/Resources << /Font << %s >> /XObject << %s >> >> >>"
            % (page.width, page.height, page.rotate, contents, fonts, xobjects)
        ))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))
    return write_pdf(objects)


def write_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF file from raw object bodies (object N is ``objects[N - 1]``), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref))
    return out.getvalue()


def rasterised(pdf: bytes, dpi: float = 150) -> bytes:
    """Each page of ``pdf`` rendered to pixels and put back as a page image: a scan of it."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            width, height = document[index].get_size()
            image = document[index].render(scale=dpi / 72).to_pil().convert("RGB")
            pages.append(PdfPage(width, height).image(image, 0, 0, width, height))
        return build_pdf(pages)
    finally:
        document.close()


def merge_pdfs(parts: list[bytes]) -> bytes:
    """One PDF with the pages of ``parts`` in order (pdfium copies them)."""
    merged = pdfium.PdfDocument.new()
    sources = [pdfium.PdfDocument(part) for part in parts]
    try:
        for source in sources:
            merged.import_pages(source)
        buffer = io.BytesIO()
        merged.save(buffer)
        return buffer.getvalue()
    finally:
        for source in sources:
            source.close()
        merged.close()
