"""Grade a class with nbgrader: ``python tools/grade.py SUBMISSIONS [--timeout S] [--out CSV]`` (``make grade``).

``SUBMISSIONS`` holds one folder per learner, named by the learner's id, with their notebooks as
handed back: ``<learner>/02_learning_sigma.ipynb``, or nbgrader's collected layout
``<learner>/02_learning_sigma/02_learning_sigma.ipynb`` (so ``_build/course/submitted`` after
``nbgrader collect`` works as it is). Every chapter someone handed in is graded for every learner.

For each learner and chapter this copies the notebook into ``_build/course/submitted/``, runs nbgrader's
``autograde`` (fast mode and grading mode, ``COURSE_FAST=1 COURSE_GRADING=1``: a placeholder fails its
check; ``--timeout`` seconds per cell; no network is used; ``--jobs`` learners at a time) and ``generate_feedback`` (HTML in
``_build/course/feedback/``), then reads the points from nbgrader's gradebook (``gradebook.db``) and
writes ``_build/course/grades.csv``: one row per learner, the points of every exercise, the total,
and ``failed``, which names each failed check with its error and every problem with a notebook.

A notebook that is not valid JSON, is not a notebook, lacks cells, raises or hangs is graded (0 for
what it does not pass) with its failure named, and never stops the run for the other learners.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbgrader_course import COURSE, DEFAULT_TIMEOUT_S, api, write_config  # noqa: E402

LEARNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def grade_cells(nb: nbformat.NotebookNode) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of the autograder test cells, in order."""
    return [(c.metadata.nbgrader["grade_id"], float(c.metadata.nbgrader["points"]))
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def nbgrader_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if isinstance(c.get("metadata"), dict) and "grade_id" in c.metadata.get("nbgrader", {})]


def prepare(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Make the learner's notebook gradable by nbgrader; returns the ids of the cells put back.

    * A notebook of the student edition (``make student-notebooks``) has no nbgrader metadata: its
      exercise cells are found by their tag (``answer``/``check``) and ``exercise`` label and get the
      metadata of the released cell with the same id.
    * An exercise cell the learner deleted is put back as it was handed out (a check as it is, the
      learner's cell with its placeholder), after the exercise cell before it; nbgrader puts back
      deleted checks only, and fails when a check's learner cell is missing too.
    """
    released = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if "nbgrader" in c.metadata}
    for cell in nb.cells:
        tags, label = set(cell.metadata.get("tags", [])), cell.metadata.get("exercise")
        if "nbgrader" in cell.metadata or not label:
            continue
        gid = f"{label}-answer" if "answer" in tags else label if "check" in tags else None
        if gid in released and released[gid].cell_type == cell.cell_type:
            cell.metadata["nbgrader"] = dict(released[gid].metadata["nbgrader"])
    present, put_back, after = set(nbgrader_ids(nb)), [], 0
    for gid, cell in released.items():
        if gid in present:
            after = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid) + 1
            continue
        restored = nbformat.from_dict(dict(cell, outputs=[]) if cell.cell_type == "code" else dict(cell))
        restored.pop("id", None)
        nb.cells.insert(after, restored)
        after += 1
        put_back.append(gid)
    return put_back


def read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The learner's notebook, or ``None`` and why it cannot be graded."""
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"not valid JSON ({err})"
    if not isinstance(data, dict) or "cells" not in data:
        return None, "not a notebook: it lacks the list of cells"
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for a malformed notebook
        return None, f"not a valid notebook ({type(err).__name__}: {str(err).splitlines()[0][:160]})"
    return nb, None


def find_notebooks(folder: Path, assignments: list[str]) -> tuple[dict[str, Path], list[str]]:
    """The learner's notebook of each assignment in ``folder``, and the ``.ipynb`` files that are none."""
    found, unknown = {}, []
    for path in sorted(folder.rglob("*.ipynb")):
        rel = path.relative_to(folder)
        if ".ipynb_checkpoints" in rel.parts:
            continue
        stem = path.stem
        if stem in assignments and rel.parts in ((path.name,), (stem, path.name)):
            if stem in found:
                unknown.append(f"{rel} (a second copy of {stem}; graded {found[stem].relative_to(folder)})")
            else:
                found[stem] = path
        else:
            unknown.append(str(rel))
    return found, unknown


def cell_failures(nb: nbformat.NotebookNode, timeout: int) -> list[str]:
    """``"<cell>: <error>"`` for every cell of the autograded notebook that raised.

    A cell is named by its nbgrader id (``ex-sigma-1`` for a check, ``ex-sigma-1-answer`` for the
    learner's cell), other cells by their number. A check that raised scored 0.
    """
    failures = []
    for i, cell in enumerate(nb.cells, 1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        name = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {i}")
        if any(o.get("ename") == "CellTimeoutError" for o in errors):
            failures.append(f"{name}: timed out (ran over {timeout} s and was interrupted)")
            continue
        first = (errors[0].get("evalue") or "").strip().splitlines()
        failures.append(f"{name}: {errors[0].get('ename')}" + (f": {first[0][:160]}" if first else ""))
    return failures


def _reason(text: str | None) -> str:
    """The last exception line of nbgrader's log, leaving out its generic closing one."""
    lines = [line.strip() for line in (text or "").splitlines()
             if re.match(r"\s*[\w.]+(Error|Exception|Interrupt)\b", line) and "NbGraderException" not in line]
    return lines[-1][:200] if lines else "see nbgrader's log"


def grade_class(submissions: Path, timeout: int = DEFAULT_TIMEOUT_S, course: Path = COURSE,
                jobs: int = 1) -> list[dict]:
    """Autograde every learner's notebooks in ``submissions``, ``jobs`` learners at a time; one row per learner."""
    sources = sorted(p for p in (course / "source").glob("*/*.ipynb") if p.parent.name == p.stem)
    if not sources:
        raise SystemExit(f"no assignments in {course / 'source'}: run `make assignments` first")
    exercises = {p.stem: grade_cells(nbformat.read(p, as_version=4)) for p in sources}
    releases = {}
    for p in sources:
        release = course / "release" / p.stem / p.name
        if not release.is_file():
            raise SystemExit(f"{release} is missing: run `make assignments` first")
        releases[p.stem] = nbformat.read(release, as_version=4)
    learners = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not learners:
        raise SystemExit(f"SUBMISSIONS={submissions} holds no learner folders (one sub-folder per learner)")
    bad = [p.name for p in learners if not LEARNER_ID.fullmatch(p.name)]
    if bad:
        raise SystemExit(f"SUBMISSIONS={submissions}: learner folder names must be ids of letters, digits, "
                         f"'.', '_' and '-' (starting with a letter or digit); got {bad}")
    found = {p.name: find_notebooks(p, list(exercises)) for p in learners}
    graded = [stem for stem in exercises if any(stem in nbs for nbs, _ in found.values())]
    if not graded:
        raise SystemExit(f"SUBMISSIONS={submissions}: no learner handed in a notebook of {sorted(exercises)}")

    os.environ.update(COURSE_FAST="1", COURSE_GRADING="1")  # the kernels nbgrader starts inherit these
    write_config(course, timeout)
    in_place = submissions.resolve() == (course / "submitted").resolve()
    tasks = [(p.name, *found[p.name], graded, exercises, releases, course, timeout, in_place) for p in learners]
    if jobs == 1:
        return [grade_learner(*task) for task in tasks]
    # one process per learner at a time: nbgrader's SQLite gradebook takes their short writes in turn
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(grade_learner, *zip(*tasks)))


def grade_learner(learner: str, notebooks: dict[str, Path], unknown: list[str], graded: list[str],
                  exercises: dict, releases: dict, course: Path, timeout: int, in_place: bool) -> dict:
    """Autograde one learner's notebooks and write their feedback; returns their gradebook row."""
    from nbgrader.api import Gradebook, MissingEntry

    grader = api(course, timeout)
    problems = [f"{u}: not a notebook of the graded chapters, ignored" for u in unknown]
    scores: dict[str, float] = {}
    for stem in graded:
        points = {gid: 0.0 for gid, _ in exercises[stem]}
        target = course / "submitted" / learner / stem / f"{stem}.ipynb"
        nb, problem = (None, "not handed in") if stem not in notebooks else read_submission(notebooks[stem])
        if not in_place and target.parent.exists():
            shutil.rmtree(target.parent)
        if problem is not None:
            problems.append(f"{stem}: {problem}")
            scores.update(points)
            continue
        missing = prepare(nb, releases[stem])
        if missing:
            problems.append(f"{stem}: lacks the cells {', '.join(missing)} (put back as handed out)")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        result = grader.autograde(stem, learner, force=True, create=True)
        if not result["success"]:
            problems.append(f"{stem}: autograde failed ({_reason(result.get('log'))})")
        else:
            autograded = course / "autograded" / learner / stem / f"{stem}.ipynb"
            problems += cell_failures(nbformat.read(autograded, as_version=4), timeout)
            with Gradebook(grader.coursedir.db_url, grader.coursedir.course_id) as gb:
                for gid in points:
                    try:
                        points[gid] = float(gb.find_grade(gid, stem, stem, learner).score or 0.0)
                    except MissingEntry:
                        problems.append(f"{gid}: no grade in the gradebook")
            feedback = grader.generate_feedback(stem, learner, force=True)
            if not feedback["success"]:
                problems.append(f"{stem}: no feedback ({_reason(feedback.get('log'))})")
        scores.update(points)
    return {"learner": learner, **scores, "total": sum(scores.values()), "failed": "; ".join(problems)}


def write_csv(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS", help="one folder per learner")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1, help="learners graded at the same time")
    parser.add_argument("--out", type=Path, default=COURSE / "grades.csv", help="the gradebook CSV to write")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS={args.submissions} is not a folder (one sub-folder per learner)")
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.jobs <= 0:
        parser.error(f"--jobs must be a positive number of processes, got {args.jobs}")
    start = time.perf_counter()
    rows = grade_class(args.submissions, args.timeout, jobs=args.jobs)
    out = write_csv(rows, args.out)
    print(out.read_text(), end="")
    print(f"{len(rows)} learners graded in {time.perf_counter() - start:.0f} s: {out}; feedback in {COURSE / 'feedback'}")


if __name__ == "__main__":
    main()
