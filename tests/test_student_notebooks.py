"""The student notebooks (``make student-notebooks``) run top to bottom and leave every exercise to the learner.

Run by ``make student-check`` (``pytest -m notebooks``), after ``tools/student_edition.py`` has written
``_build/student/notebooks``. Each notebook is executed in fast mode with nbclient; it must raise
nothing, hold no solution, and print "not attempted yet" once per exercise and no check mark.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from student_edition import SOLUTION_TAG, chapters  # noqa: E402

pytestmark = pytest.mark.notebooks
NOTEBOOKS = ROOT / "_build" / "student" / "notebooks"
EXERCISE = re.compile(r"^```+\{exercise\}", re.M)


def outputs_text(nb) -> str:
    """Every stream and text/plain output of the executed notebook, concatenated."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out and "text/plain" in out["data"]:
                parts.append(out["data"]["text/plain"])
    return "\n".join(parts)


@pytest.mark.parametrize("chapter", [p.stem for p in chapters()])
def test_student_notebook(chapter):
    from nbclient import NotebookClient

    path = NOTEBOOKS / f"{chapter}.ipynb"
    assert path.is_file(), f"{path} missing: run `make student-notebooks`"
    assert os.environ.get("COURSE_FAST") == "1", "run in fast mode (make student-check sets COURSE_FAST=1)"
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if SOLUTION_TAG in c.metadata.get("tags", [])]
    assert not tagged, f"{chapter}: {len(tagged)} solution cell(s) left in the student notebook"
    assert not any("solution-start" in c.source for c in nb.cells), f"{chapter}: a solution directive is left"
    n_exercises = len(EXERCISE.findall((ROOT / "book" / f"{chapter}.md").read_text()))
    assert n_exercises >= 3, f"{chapter} has {n_exercises} exercises, the course asks for at least 3"

    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    text = outputs_text(nb)
    not_attempted = text.count("not attempted yet")
    assert not_attempted == n_exercises, (
        f"{chapter}: {n_exercises} exercises but {not_attempted} 'not attempted yet' lines: every exercise's "
        "placeholder must reach its check, and the check must recognise it")
    marks = [line for line in text.splitlines() if line.lstrip().startswith("\u2713")]
    assert not marks, f"{chapter}: a check passed before the learner wrote anything: {marks[:3]}"
