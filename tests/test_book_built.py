"""What the built fast book shows (``make book-check``, ``pytest -m built``, after ``make book-fast``).

* Every exercise has an executed solution whose check printed its check mark: a wrong solution or
  a check that rejects the right answer fails here (and in nbval), not in a reader's hands.
* Each build folder holds the mode it claims: the fast book (``_build/fast/html``) was executed
  with ``COURSE_FAST=1`` and, where it has been built, the full book (``_build/html``) without it.
  Sphinx re-uses cached pages when no source changed, so one shared folder would serve the one
  mode's results as the other's.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST_HTML = ROOT / "_build" / "fast" / "html"
FULL_HTML = ROOT / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.md"))
EXERCISE = re.compile(r"^```+\{exercise\}", re.M)

pytestmark = pytest.mark.built


class _Solutions(HTMLParser):
    """The text of every ``<div class="... solution ...">`` block (nesting tracked by div depth)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._depth = 0  # >0 inside a solution block: the number of open divs in it

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        if self._depth:
            self._depth += 1
        elif "solution" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.blocks[-1] += data


def page(html_root: Path, chapter: str) -> str:
    path = html_root / "book" / f"{chapter}.html"
    assert path.is_file(), f"{path} missing: run `make book-fast` first"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_solution_runs_and_passes_its_check(chapter):
    parser = _Solutions()
    parser.feed(page(FAST_HTML, chapter))
    n_exercises = len(EXERCISE.findall((ROOT / "book" / f"{chapter}.md").read_text()))
    assert len(parser.blocks) == n_exercises, f"{chapter}: {n_exercises} exercises, {len(parser.blocks)} solutions"
    for i, text in enumerate(parser.blocks, 1):
        assert "\u2713" in text, f"{chapter}, solution {i}: its check printed no \u2713 (output: {text[-300:]!r})"
        assert "not attempted yet" not in text, f"{chapter}, solution {i}: the check saw the placeholder"


@pytest.mark.parametrize("html_root, mode", [(FAST_HTML, "fast"), (FULL_HTML, "full")])
def test_build_folder_holds_its_mode(html_root, mode):
    if mode == "full" and not (html_root / "book").is_dir():
        pytest.skip("the full book has not been built here (make book)")
    for chapter in CHAPTERS:
        modes = set(re.findall(r"mode: (fast|full) \|", page(html_root, chapter)))
        assert modes == {mode}, f"{html_root}/book/{chapter}.html was executed in mode {modes}, expected {mode}"
