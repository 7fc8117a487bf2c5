"""Shared by the benchmark scripts: a one-line machine description and RESULTS.md sections.

Each script owns one ``## ...`` section of ``benchmarks/RESULTS.md`` and replaces it on every
run, leaving the other scripts' sections as they are.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
_PREAMBLE = "# Benchmark results\n\nEach section is written by one script in `benchmarks/`.\n"


def machine() -> str:
    """CPU model, logical CPUs, load average, torch and Python versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "n/a"
    if hasattr(os, "getloadavg"):
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs (load average {load} at start), "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )


def write_section(heading: str, text: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section that starts with the line ``heading``; keep the others.

    ``text`` is the whole section, heading line included.
    """
    old = path.read_text() if path.exists() else _PREAMBLE
    lines = old.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "\n".join(lines[end:])
        new = "\n".join(lines[:start]) + ("\n" if start else "") + text.rstrip("\n") + "\n" + ("\n" + rest + "\n" if rest else "")
    path.write_text(new)


def publish(heading: str, lines: list[str], write: bool = True, path: Path = RESULTS) -> str:
    """Print a script's report (``lines``, heading first) and, if ``write``, replace its section of ``path``."""
    report = "\n".join(lines)
    print(report)
    if write:
        write_section(heading, report, path)
        print(f"\nwrote {path}")
    return report
