"""course_lib.plotting.markdown_table: the tables chapters 4 and 5 display."""

import pytest

from course_lib.plotting import markdown_table


def test_markdown_table_rows_and_separator():
    text = markdown_table(["a", "b"], [[1, 2.5], ["x", "y"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2.5 |", "| x | y |"]


def test_markdown_table_names_a_ragged_row():
    with pytest.raises(ValueError, match=r"rows\[1\]"):
        markdown_table(["a", "b"], [[1, 2], [3]])
