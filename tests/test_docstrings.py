"""Every docstring example of ``course_lib`` runs (doctest), and fits the book's code column.

The examples are shown in the library reference (book/reference.md), where a code line longer
than the column (88 characters, pyproject.toml's ruff line-length) would scroll sideways.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import matplotlib.pyplot as plt
import pytest

import course_lib

matplotlib.use("Agg")
COLUMN = 88
MODULES = sorted(m.name for m in pkgutil.walk_packages(course_lib.__path__, "course_lib.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    try:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    finally:
        plt.close("all")  # an example's figures must not leak into other tests
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"


@pytest.mark.parametrize("name", MODULES)
def test_examples_fit_the_column(name):
    module = importlib.import_module(name)
    long = []
    for test in doctest.DocTestFinder().find(module):
        for example in test.examples:
            for i, line in enumerate(example.source.splitlines()):
                prefix = "... " if i else ">>> "
                if len(prefix + line) > COLUMN:
                    long.append(f"{test.name}: {prefix + line}")
    assert not long, "docstring example lines longer than the book's column:\n" + "\n".join(long)
