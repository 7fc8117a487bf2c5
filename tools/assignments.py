"""Each chapter as an nbgrader assignment: ``python tools/assignments.py [CHAPTER ...]`` (``make assignments``).

For every chapter (all by default; or the stems given, e.g. ``02_learning_sigma``) this writes
nbgrader's source notebook ``_build/course/source/<chapter>/<chapter>.ipynb`` and runs nbgrader's
``generate_assignment``, which writes the version learners get to ``_build/course/release/``.

The chapter in ``book/`` is the only source; cells are picked by their tags and metadata:

* the cells the student edition keeps (``tools/student_edition.py``: every cell tagged ``solution``
  removed) are the notebook, in order;
* the learner's cell of an exercise (tag ``answer``, metadata ``exercise: <label>``) becomes an
  nbgrader *solution* cell: its placeholder, then the chapter's solution code (the code cells tagged
  ``solution`` with the same label, without the one tagged ``check``) between nbgrader's
  ``### BEGIN SOLUTION`` / ``### END SOLUTION``, which the release leaves out;
* the self-check below it (tag ``check``, same label) becomes a locked autograder test cell worth
  the points the chapter's metadata gives that label (``course: points: {label: n}`` in its header).

So the released notebook is the student notebook, cell for cell, with nbgrader's metadata on the
exercises' cells.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbgrader_course import COURSE, api, write_config  # noqa: E402
from student_edition import SOLUTION_TAG, chapters, without_solutions  # noqa: E402

ANSWER_TAG, CHECK_TAG = "answer", "check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def exercise_points(nb: nbformat.NotebookNode, name: str) -> dict[str, int]:
    """``{label: points}`` from the chapter's metadata, checked: positive integers, at least one exercise."""
    points = nb.metadata.get("course", {}).get("points")
    if not isinstance(points, dict) or not points:
        raise ValueError(f"{name}: no points in the chapter's metadata (its header needs `course: points: "
                         "{exercise label: points}`)")
    bad = {k: v for k, v in points.items() if not isinstance(v, int) or isinstance(v, bool) or v <= 0}
    if bad:
        raise ValueError(f"{name}: points must be positive integers, got {bad}")
    return dict(points)


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def solutions(nb: nbformat.NotebookNode, name: str) -> dict[str, str]:
    """The solution code of each exercise: its ``solution`` code cells other than its check, joined."""
    found: dict[str, list[str]] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and SOLUTION_TAG in _tags(cell) and CHECK_TAG not in _tags(cell):
            label = cell.metadata.get("exercise")
            if label is None:
                raise ValueError(f"{name}: a solution code cell has no `exercise` label: {cell.source[:60]!r}")
            found.setdefault(label, []).append(cell.source.strip("\n"))
    return {label: "\n\n".join(parts) for label, parts in found.items()}


def source_notebook(path: Path) -> nbformat.NotebookNode:
    """nbgrader's source notebook of the chapter at ``path`` (see the module docstring)."""
    name = path.name
    full = jupytext.read(path)
    points = exercise_points(full, name)
    code = solutions(full, name)
    nb = without_solutions(path)
    answers, checks = [], []
    for cell in nb.cells:
        tags, label = _tags(cell), cell.metadata.get("exercise")
        role = {ANSWER_TAG, CHECK_TAG} & tags
        if not role:
            continue
        if len(role) == 2 or cell.cell_type != "code" or label not in points:
            raise ValueError(f"{name}: a cell tagged {sorted(role)} must be a code cell with one of the tags "
                             f"{ANSWER_TAG!r} or {CHECK_TAG!r} and an `exercise` label among the chapter's "
                             f"points {sorted(points)}; got label {label!r}: {cell.source[:60]!r}")
        meta = {"schema_version": 3, "task": False, "grade_id": label}
        if ANSWER_TAG in role:
            if label not in code:
                raise ValueError(f"{name}: exercise {label} has no solution code cell")
            cell.source = f"{cell.source.rstrip()}\n{BEGIN}\n{code[label]}\n{END}"
            meta.update(grade=False, solution=True, locked=False, grade_id=f"{label}-answer")
            answers.append(label)
        else:
            meta.update(grade=True, solution=False, locked=True, points=points[label])
            checks.append(label)
        cell.metadata["nbgrader"] = meta
    for role, labels in ((ANSWER_TAG, answers), (CHECK_TAG, checks)):
        if sorted(labels) != sorted(points):
            raise ValueError(f"{name}: the cells tagged {role!r} are labelled {labels}, but the chapter's points "
                             f"name {sorted(points)}: each exercise needs exactly one of each")
    return nb


def write_assignment(path: Path, course: Path = COURSE) -> Path:
    """Write the chapter's source notebook under ``course/source/``; returns its path."""
    folder = course / "source" / path.stem
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = folder / f"{path.stem}.ipynb"
    nbformat.write(source_notebook(path), target)
    return target


def generate(paths: list[Path], course: Path = COURSE) -> None:
    """Source notebooks for ``paths``, then nbgrader's ``generate_assignment`` for each."""
    write_config(course)
    grader = api(course)
    for path in paths:
        write_assignment(path, course)
        result = grader.generate_assignment(path.stem, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {path.stem} failed:\n{result.get('log', '')}\n"
                               f"{result.get('error', '')}")


def pick_chapters(names: list[str]) -> list[Path]:
    """The chapters named by ``names`` (stems such as ``02_learning_sigma``); all of them when empty."""
    every = {p.stem: p for p in chapters()}
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}: CHAPTER must be one of {sorted(every)}")
    return [every[n] for n in names] if names else list(every.values())


if __name__ == "__main__":
    if any(a.startswith("-") for a in sys.argv[1:]):
        sys.exit("usage: python tools/assignments.py [CHAPTER ...]   (e.g. 02_learning_sigma; default: all)")
    selected = pick_chapters(sys.argv[1:])
    generate(selected)
    print(f"{len(selected)} assignments in {COURSE}: source/ (with solutions) and release/ (to hand out)")
