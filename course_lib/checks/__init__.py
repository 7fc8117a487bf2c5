"""Self-check functions for the exercises, one module per chapter.

A check prints a short confirmation when the answer is right and raises
:class:`AssertionError` with what was expected, what came out and where to look
when it is not.
"""

from __future__ import annotations

__all__ = ["passed", "expect_close"]


def passed(message: str) -> None:
    """Print the uniform success line of a self-check."""
    print(f"\u2713 {message}")


def expect_close(name: str, got: float, expected: float, rtol: float, hint: str = "") -> None:
    """Raise a helpful :class:`AssertionError` unless ``got`` is within ``rtol`` of ``expected``."""
    got, expected = float(got), float(expected)
    if not abs(got - expected) <= rtol * max(abs(expected), 1e-12):
        msg = f"{name}: expected {expected:.6g} (relative tolerance {rtol:g}), got {got:.6g}."
        if hint:
            msg += f" Hint: {hint}"
        raise AssertionError(msg)
