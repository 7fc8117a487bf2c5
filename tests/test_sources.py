"""The sources are plain text: no control characters (a docstring written through a non-raw string
turns ``\\t``, ``\\b``, ``\\a`` and ``\\n`` of LaTeX commands into them, and the book build rejects them)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for d in ("course_lib", "book", "tests", "tools", "benchmarks")
                 for p in (ROOT / d).rglob("*") if p.suffix in {".py", ".md", ".yml", ".toml"})


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_control_characters(path):
    bad = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           if any(ord(c) < 32 for c in line)]
    assert not bad, f"{path.name}: control characters on lines {[n for n, _ in bad]}"
