"""The nbgrader course folder, ``_build/course``, and the settings every nbgrader step shares.

``tools/assignments.py`` (``make assignments``) and ``tools/grade.py`` (``make grade``) drive nbgrader
through its Python API (:class:`nbgrader.apps.NbGraderAPI`) with the settings below, and write them
to ``_build/course/nbgrader_config.py`` too, so that nbgrader's own commands run in that folder
(``nbgrader release_assignment``, ``nbgrader collect``, ``nbgrader formgrader``) see the same course.

nbgrader's layout under the course folder: ``source/<chapter>/<chapter>.ipynb`` (the instructor's
version), ``release/`` (what learners get), ``submitted/<learner>/<chapter>/``, ``autograded/``,
``feedback/`` and the SQLite gradebook ``gradebook.db``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "_build" / "course"
COURSE_ID = "diffphys"
DEFAULT_TIMEOUT_S = 120  # per cell; the slowest cell of a chapter in fast mode takes about 11 s


def settings(course: Path = COURSE, timeout: int = DEFAULT_TIMEOUT_S) -> dict[str, dict[str, object]]:
    """nbgrader's settings for ``course``, as ``{class: {trait: value}}``.

    * The learner's cell keeps its placeholder: the source cell is the placeholder followed by the
      solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and the solution is replaced
      by an empty stub (nbgrader's default stub, ``raise NotImplementedError()``, would make the cell
      itself raise instead of the self-check).
    * A check cell the learner deleted is put back before grading (``add_missing_cells``), so the
      exercise is graded (and fails) rather than silently missing from the gradebook.
    * ``timeout`` seconds per cell: a cell that runs longer is interrupted and fails.
    """
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds (an int), got {timeout!r}")
    return {
        "CourseDirectory": {"root": str(course), "course_id": COURSE_ID},
        "Exchange": {"root": str(course / "exchange")},
        "ClearSolutions": {"code_stub": {"python": ""}},
        "OverwriteCells": {"add_missing_cells": True},
        "Execute": {"timeout": timeout},
    }


def write_config(course: Path = COURSE, timeout: int = DEFAULT_TIMEOUT_S) -> Path:
    """``course/nbgrader_config.py`` holding :func:`settings`; returns its path."""
    lines = ["# Written by tools/nbgrader_course.py (make assignments, make grade): the course's nbgrader settings.",
             "c = get_config()  # noqa: F821", ""]
    for cls, traits in settings(course, timeout).items():
        lines += [f"c.{cls}.{trait} = {value!r}" for trait, value in traits.items()]
    course.mkdir(parents=True, exist_ok=True)
    path = course / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def api(course: Path = COURSE, timeout: int = DEFAULT_TIMEOUT_S):
    """An :class:`nbgrader.apps.NbGraderAPI` on ``course`` with :func:`settings`.

    nbgrader runs the ``alembic`` command to set up a new gradebook: this interpreter's ``bin``
    folder (the course's ``.venv/bin``) goes first on ``PATH``, so it is found without activating
    the virtual environment.
    """
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config(settings(course, timeout))
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
