"""Grading mode (``COURSE_GRADING=1``, set by ``make grade``): a placeholder fails its check, so it scores 0.

Without grading mode the same placeholder prints "not attempted yet" and raises nothing (what a learner
sees in class); a wrong answer raises in both modes.
"""

from __future__ import annotations

import pytest

from course_lib.checks import NotAttempted, answer, attempt, passed, self_check
from course_lib.checks.dps import check_zeta_retuning
from course_lib.checks.sigma import check_loss_gradient


@self_check(hint="double it")
def check_double(my_double):
    if attempt(my_double, 2) != 4:
        raise AssertionError("expected 4")
    passed("doubled")


def placeholder(x):
    raise NotImplementedError


@pytest.mark.parametrize("grading", ["0", None])
def test_placeholder_outside_grading_mode_prints(monkeypatch, capsys, grading):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    if grading is None:
        monkeypatch.delenv("COURSE_GRADING", raising=False)
    else:
        monkeypatch.setenv("COURSE_GRADING", grading)
    assert check_double(placeholder) is None
    assert capsys.readouterr().out == "\u2026 check_double: not attempted yet. First hint: double it\n"


@pytest.mark.parametrize("env", [("COURSE_GRADING", "1"), ("NBGRADER_EXECUTION", "autograde")])
def test_placeholder_in_grading_mode_raises(monkeypatch, capsys, env):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.setenv(*env)
    with pytest.raises(NotAttempted, match="check_double: not attempted yet. First hint: double it"):
        check_double(placeholder)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("grading", ["0", "1"])
def test_right_and_wrong_answers_do_not_depend_on_the_mode(monkeypatch, capsys, grading):
    monkeypatch.setenv("COURSE_GRADING", grading)
    check_double(lambda x: 2 * x)
    assert capsys.readouterr().out.startswith("\u2713 doubled")
    with pytest.raises(AssertionError, match="expected 4"):
        check_double(lambda x: -2 * x)


def test_chapter_checks_raise_on_placeholders_in_grading_mode(monkeypatch):
    """A function placeholder and a value placeholder (``None``) of two chapters' real checks."""
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(NotAttempted, match="check_loss_gradient: not attempted yet"):
        check_loss_gradient(lambda x, y, sigma: placeholder(x))
    with pytest.raises(NotAttempted, match="check_zeta_retuning: not attempted yet"):
        check_zeta_retuning(None, None, None, None, None, None)
    assert answer(0.5) == 0.5
