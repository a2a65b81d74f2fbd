"""The tests draw their pages with a font they ship (with its licence), not one the machine may lack."""

from __future__ import annotations

from pathlib import Path

from tests.pages import FONT_FILE, font

TESTS = Path(__file__).resolve().parent


def test_the_font_ships_with_its_licence_and_loads():
    assert FONT_FILE.is_file() and FONT_FILE.is_relative_to(TESTS / "data" / "fonts")
    assert "Bitstream" in (FONT_FILE.parent / "LICENSE").read_text()
    assert font(40).getname() == ("DejaVu Sans", "Book")


def test_no_test_reads_a_system_font():
    for path in [*TESTS.glob("*.py"), *(TESTS.parent / "bench").glob("*.py")]:
        if path == Path(__file__).resolve():
            continue
        assert "/usr/share/fonts" not in path.read_text(), path
