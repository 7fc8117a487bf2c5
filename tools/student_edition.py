"""The student edition: every chapter without its solutions, as notebooks and as a book.

``python tools/student_edition.py OUT [--no-execute]`` (``make student-notebooks``, ``make book-student``) writes

* ``OUT/notebooks/NN_*.ipynb`` -- each chapter as a notebook to hand out, outputs empty;
* ``OUT/src/`` -- the book's sources with the same cells removed, and its ``_config.yml``
  (``tools/student_config.py``: no page sources, no download button, "(student edition)").

A solution is every cell tagged ``solution``: the executed code cell of a gated
``solution-start``/``solution-end`` block and the two markdown cells holding those directives
(``+++ {"tags": ["solution"]}`` in the MyST source). nbconvert's ``TagRemovePreprocessor`` removes
them; the chapters are read and written by jupytext, so nothing here parses the text itself. What
remains is the exercise, the learner's cell with its placeholder, and the self-check, which prints
"not attempted yet" until the learner has written their answer.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbconvert.preprocessors import TagRemovePreprocessor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from student_config import student_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"


def chapters(book: Path = ROOT / "book") -> list[Path]:
    """The chapter sources, ``book/NN_*.md``, in order."""
    return sorted(book.glob("[0-9][0-9]_*.md"))


def without_solutions(path: Path) -> nbformat.NotebookNode:
    """The chapter at ``path`` as a notebook, every cell tagged ``solution`` removed."""
    nb = jupytext.read(path)
    remover = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True)
    nb, _ = remover.preprocess(nb, {})
    left = [c for c in nb.cells if "solution-start" in c.source or "solution-end" in c.source]
    if left:
        raise ValueError(f"{path.name}: a solution directive sits in a cell not tagged {SOLUTION_TAG!r}: "
                         f"{left[0].source[:60]!r}")
    return nb


def write_notebooks(out: Path) -> list[Path]:
    """``out/NN_*.ipynb`` for every chapter; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters():
        target = out / f"{path.stem}.ipynb"
        nbformat.write(without_solutions(path), target)
        written.append(target)
    return written


def write_book_sources(out: Path, execute: bool = True) -> Path:
    """A copy of the book's sources in ``out`` with the solutions removed; returns its config."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ROOT / "book", out / "book", ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    for path in chapters():
        jupytext.write(without_solutions(path), out / "book" / path.name, fmt="md:myst")
    (out / "benchmarks").mkdir()
    shutil.copy2(ROOT / "benchmarks" / "chapter_times.json", out / "benchmarks")  # book/teaching.md reads it
    config = student_config(execute=execute)
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1 or set(sys.argv[1:]) - {*args, "--no-execute"}:
        sys.exit("usage: python tools/student_edition.py OUT [--no-execute]")
    out = Path(args[0])
    notebooks = write_notebooks(out / "notebooks")
    config = write_book_sources(out / "src", execute="--no-execute" not in sys.argv)
    print(f"{len(notebooks)} student notebooks in {out / 'notebooks'}; book sources in {config.parent}")
