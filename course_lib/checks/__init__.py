"""Self-check functions for the exercises, one module per chapter.

Every check follows the same conventions, so a learner meets one behaviour in every chapter:

* A check that takes the learner's function names its first parameter ``my_...``; a value
  exercise takes the learner's value.
* **Not attempted yet.** The placeholder a chapter gives the learner is a function whose body
  raises ``NotImplementedError``, or a value left as ``None`` or ``...``. For it the check prints
  one line containing "not attempted yet" and the first hint, and returns without raising, so a
  notebook run top to bottom never stops at an exercise. In grading mode
  (:func:`course_lib.config.grading`, set by the autograder) the check raises
  :class:`NotAttempted` with the same line instead, so the exercise scores 0.
* **Wrong.** A wrong answer raises :class:`AssertionError` with what was expected, what came out
  and a hint.
* **Right.** A right answer prints one line starting with "✓".
* The reference answer is computed inside the checks module, independently of anything the
  chapter exports (a closed form, another algorithm, autograd against a hand-derived formula).

A chapter's check is written with the three helpers below::

    @self_check(hint="sort v in decreasing order first")
    def check_projection(my_project):
        got = attempt(my_project, v)      # NotImplementedError -> "not attempted yet"
        ...
        passed("your projection is exact")
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .. import config

__all__ = ["passed", "expect_close", "self_check", "attempt", "answer", "NotAttempted"]

F = TypeVar("F", bound=Callable[..., Any])


class NotAttempted(Exception):
    """Raised inside a check when the learner's answer is still the placeholder.

    A check catches it and prints "not attempted yet"; in grading mode it leaves the check,
    which then fails like a wrong answer.
    """


def passed(message: str) -> None:
    """Print the uniform success line of a self-check."""
    print(f"\u2713 {message}")


def self_check(hint: str) -> Callable[[F], F]:
    """Decorate a check: a :class:`NotAttempted` inside it prints the friendly line with ``hint``."""
    if not isinstance(hint, str) or not hint:
        raise TypeError("hint must be a non-empty string")

    def decorate(check: F) -> F:
        @functools.wraps(check)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return check(*args, **kwargs)
            except NotAttempted:
                message = f"{check.__name__}: not attempted yet. First hint: {hint}"
                if config.grading():
                    raise NotAttempted(message) from None
                print(f"\u2026 {message}")
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


def attempt(my_function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function; its ``NotImplementedError`` means "not attempted yet".

    A function that returns ``None`` has been attempted but forgot its ``return``: that is a
    wrong answer, not a placeholder.
    """
    if not callable(my_function):
        raise TypeError(f"expected your function, got {type(my_function).__name__}")
    try:
        out = my_function(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted from None
    if out is None:
        raise AssertionError("your function returned None: did you forget the `return` statement?")
    return out


def answer(value: Any) -> Any:
    """The learner's value, or :class:`NotAttempted` when it is still ``None`` or ``...``."""
    if value is None or value is Ellipsis:
        raise NotAttempted
    return value


def expect_close(name: str, got: float, expected: float, rtol: float, hint: str = "") -> None:
    """Raise a helpful :class:`AssertionError` unless ``got`` is within ``rtol`` of ``expected``."""
    got, expected = float(got), float(expected)
    if not abs(got - expected) <= rtol * max(abs(expected), 1e-12):
        msg = f"{name}: expected {expected:.6g} (relative tolerance {rtol:g}), got {got:.6g}."
        if hint:
            msg += f" Hint: {hint}"
        raise AssertionError(msg)
