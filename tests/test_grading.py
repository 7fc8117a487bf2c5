"""Grading a class with nbgrader (``make assignments``, ``make grade``) on a small class of real submissions.

Run by ``make grade-check`` (``pytest -m grading``; about two minutes on 2 cores). Chapter 2 (the
quickest in fast mode) is made an nbgrader assignment in a temporary course folder, and seven
learners hand in its student notebook (``tools/student_edition.py``):

* ``untouched`` -- as handed out: every placeholder scores 0 (grading mode);
* ``solved`` -- every answer cell holds the chapter's solution code (its cells tagged ``solution``);
* ``wrong`` -- exercise 1 returns twice the gradient, exercise 2 steps with the wrong sign;
* ``raises`` -- exercise 2's cell raises before it defines its function;
* ``loops`` -- exercise 3's function never returns (interrupted by the timeout per cell);
* ``corrupted`` -- the solved notebook cut in half: not valid JSON;
* ``erased`` -- only the notebook's first cells are left: the checks are put back and fail.

Each row of the gradebook is asserted, and the rows must match ``book/example_grades.csv``, the
example the teaching page shows.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from assignments import ANSWER_TAG, generate, solutions  # noqa: E402
from grade import grade_class, write_csv  # noqa: E402
from student_edition import without_solutions  # noqa: E402

pytestmark = pytest.mark.grading
CHAPTER = ROOT / "book" / "02_learning_sigma.md"
EXAMPLE = ROOT / "book" / "example_grades.csv"
TIMEOUT_S = 90  # the slowest cell takes about 11 s in fast mode on a quiet 2-core machine, over 60 s on a busy one

WRONG = {  # appended to the solution: the near misses the checks must reject
    "ex-sigma-1": "\n\n_right_grad = my_loss_grad\n\n\ndef my_loss_grad(x, y, sigma):\n"
                  "    return 2 * _right_grad(x, y, sigma)  # a factor 2\n",
    "ex-sigma-2": "\n\n_right_step = my_newton_step\n\n\ndef my_newton_step(loss_fn, theta):\n"
                  "    return 2 * theta - _right_step(loss_fn, theta)  # the step's sign flipped\n",
}
RAISES = "raise RuntimeError('my Newton step is not finished')\n"
LOOPS = "\n\ndef my_fit(x, target):\n    while True:\n        pass\n"


def answers(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["exercise"]: c for c in nb.cells if ANSWER_TAG in c.metadata.get("tags", [])}


def make_class(folder: Path) -> None:
    """The seven learners' folders, each with its ``02_learning_sigma.ipynb``."""
    code = solutions(jupytext.read(CHAPTER), CHAPTER.name)
    name = f"{CHAPTER.stem}.ipynb"

    def learner(who: str, edit=None) -> Path:
        nb = without_solutions(CHAPTER)
        if edit:
            edit(nb, answers(nb))
        (folder / who).mkdir(parents=True)
        nbformat.write(nb, folder / who / name)
        return folder / who / name

    def solve(nb, cells, patches=None):
        for label, cell in cells.items():  # the answer below the placeholder, as in nbgrader's source
            cell.source = f"{cell.source}\n\n{code[label]}{(patches or {}).get(label, '')}"

    learner("untouched")
    solved = learner("solved", solve)
    learner("wrong", lambda nb, cells: solve(nb, cells, WRONG))

    def raises(nb, cells):
        solve(nb, cells)
        cells["ex-sigma-2"].source = RAISES

    learner("raises", raises)
    learner("loops", lambda nb, cells: solve(nb, cells, {"ex-sigma-3": LOOPS}))
    text = solved.read_text()
    (folder / "corrupted").mkdir()
    (folder / "corrupted" / name).write_text(text[: len(text) // 2])

    def erase(nb, cells):
        del nb.cells[3:]

    learner("erased", erase)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    course, submissions = tmp / "course", tmp / "submissions"
    generate([CHAPTER], course)
    make_class(submissions)
    start = time.perf_counter()
    rows = grade_class(submissions, TIMEOUT_S, course, jobs=2)
    seconds = time.perf_counter() - start
    out = write_csv(rows, ROOT / "_build" / "course_test" / "grades.csv")
    print(f"\n{out.read_text()}graded {len(rows)} learners in {seconds:.0f} s")
    return {row["learner"]: row for row in rows}, course


EXPECTED = {  # learner: (ex-sigma-1, ex-sigma-2, ex-sigma-3), what `failed` must name
    "untouched": ((0, 0, 0), ["ex-sigma-1: NotAttempted: check_loss_gradient: not attempted yet",
                              "ex-sigma-2: NotAttempted", "ex-sigma-3: NotAttempted"]),
    "solved": ((4, 3, 3), []),
    "wrong": ((0, 0, 3), ["ex-sigma-1: AssertionError", "twice the answer",
                          "ex-sigma-2: AssertionError: one step on 3 (t - 0.5)^2 + 1"]),
    "raises": ((4, 0, 3), ["ex-sigma-2-answer: RuntimeError: my Newton step is not finished",
                           "ex-sigma-2: NameError: name 'my_newton_step' is not defined"]),
    "loops": ((4, 3, 0), [f"ex-sigma-3: timed out (ran over {TIMEOUT_S} s"]),
    "corrupted": ((0, 0, 0), ["02_learning_sigma: not valid JSON"]),
    "erased": ((0, 0, 0), ["02_learning_sigma: lacks the cells ex-sigma-1-answer, ex-sigma-1, ex-sigma-2-answer",
                           "ex-sigma-1: NotAttempted: check_loss_gradient: not attempted yet"]),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_gradebook_row(graded, who):
    rows, _ = graded
    row = rows[who]
    points, named = EXPECTED[who]
    assert (row["ex-sigma-1"], row["ex-sigma-2"], row["ex-sigma-3"]) == points, f"{who}: {row}"
    assert row["total"] == sum(points)
    for text in named:
        assert text in row["failed"], f"{who}: {text!r} not in failed: {row['failed']!r}"
    if not named:
        assert row["failed"] == "", f"{who}: {row['failed']!r}"


def test_feedback_and_gradebook_written_by_nbgrader(graded):
    rows, course = graded
    for who in ("untouched", "solved", "wrong", "raises", "loops", "erased"):
        assert (course / "feedback" / who / CHAPTER.stem / f"{CHAPTER.stem}.html").is_file(), who
    assert not (course / "feedback" / "corrupted").exists()
    assert (course / "gradebook.db").is_file() and (course / "nbgrader_config.py").is_file()


def test_release_is_the_student_notebook(graded):
    _, course = graded
    release = nbformat.read(course / "release" / CHAPTER.stem / f"{CHAPTER.stem}.ipynb", as_version=4)
    student = without_solutions(CHAPTER)
    assert [c.source.rstrip() for c in release.cells] == [c.source.rstrip() for c in student.cells]
    assert not any("BEGIN SOLUTION" in c.source for c in release.cells)
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"]
              for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == jupytext.read(CHAPTER).metadata["course"]["points"]


def test_teaching_page_example_is_this_class(graded):
    rows, _ = graded
    with EXAMPLE.open() as f:
        example = list(csv.DictReader(f))
    got = rows
    assert [r["learner"] for r in example] == list(got), "book/example_grades.csv lists other learners"
    for r in example:
        mine = got[r["learner"]]
        assert {k: float(v) for k, v in r.items() if k.startswith("ex-") or k == "total"} == \
            {k: v for k, v in mine.items() if k.startswith("ex-") or k == "total"}, (
            f"book/example_grades.csv is stale for {r['learner']}: copy _build/course_test/grades.csv")
        named = sorted(p.split(":")[0] for p in r["failed"].split("; ") if p)
        assert named == sorted(p.split(":")[0] for p in mine["failed"].split("; ") if p), r["learner"]


@pytest.mark.parametrize("args, message", [
    (["/no/such/folder"], "SUBMISSIONS=/no/such/folder is not a folder"),
    ([".", "--timeout", "0"], "--timeout must be a positive number of seconds"),
    ([".", "--timeout", "soon"], "argument --timeout: invalid int value: 'soon'"),
])
def test_bad_arguments_are_named(args, message):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "grade.py"), *args], capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr, done.stderr
