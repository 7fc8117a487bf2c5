"""Wall-clock time of every chapter, executed top to bottom as `make book` / nbval would.

Each chapter (``book/NN_*.md``) is read with jupytext and executed by nbclient in a fresh
kernel, with ``COURSE_FAST`` and ``COURSE_DEVICE`` set as asked, from the repository root.
A run that raises (including a failed result assertion in the chapter) is recorded as failed.

Results accumulate in ``benchmarks/chapter_times.json`` -- one entry per chapter, mode and
device, the newest kept -- so runs on different machines (a laptop CPU, a GPU node) fill one
table. The ``## Chapter run times`` section of RESULTS.md is rewritten from that file.

Example
-------
    .venv/bin/python benchmarks/bench_chapters.py --mode fast                 # every chapter, fast mode, CPU
    .venv/bin/python benchmarks/bench_chapters.py --mode full --chapters 04   # one chapter, full settings
    .venv/bin/python benchmarks/bench_chapters.py --mode fast --device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import jupytext
import nbclient
import torch

from report import machine, write_section  # benchmarks/report.py

REPO = Path(__file__).resolve().parent.parent
TIMES = Path(__file__).resolve().parent / "chapter_times.json"
SECTION = "## Chapter run times"


def _cell_seconds(cell) -> float:
    """Execution time of one code cell from nbclient's timing metadata (0 when absent)."""
    ex = cell.get("metadata", {}).get("execution", {})
    try:
        start = dt.datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def run_chapter(path: Path, mode: str, device: str, timeout: int) -> dict:
    """Execute one chapter in a fresh kernel; return its wall time, status and slowest cell."""
    nb = jupytext.read(path)
    env = dict(os.environ, COURSE_FAST="1" if mode == "fast" else "0", COURSE_DEVICE=device, PYTHONHASHSEED="0")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    t0 = time.perf_counter()
    error = None
    try:
        client.execute(env=env)  # passed on to the kernel manager: the kernel's environment
    except Exception as err:  # noqa: BLE001 - any failure is a result to record
        lines = str(err).strip().splitlines()
        error = f"{type(err).__name__}: {lines[-1][:200] if lines else ''}"
    seconds = time.perf_counter() - t0
    code = [c for c in nb.cells if c.cell_type == "code"]
    slowest = max(code, key=_cell_seconds) if code else None
    return {
        "chapter": path.stem,
        "mode": mode,
        "device": device,
        "seconds": round(seconds, 1),
        "ok": error is None,
        "error": error,
        "slowest_cell_seconds": round(_cell_seconds(slowest), 1) if slowest else 0.0,
        "slowest_cell_start": (slowest.source.strip().splitlines() or [""])[0][:70] if slowest else "",
        "machine": machine() + (f", {torch.cuda.get_device_name(torch.device(device))}" if device.startswith("cuda") else ""),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(entries: list[dict]) -> str:
    """Markdown section: one row per chapter, one column per (mode, device) measured."""
    keys = sorted({(e["mode"], e["device"]) for e in entries}, key=lambda k: (k[1], k[0] != "fast"))
    chapters = sorted({e["chapter"] for e in entries})
    by = {(e["chapter"], e["mode"], e["device"]): e for e in entries}

    def cell(e):
        if e is None:
            return "--"
        t = f"{e['seconds']:.0f} s" if e["seconds"] < 120 else f"{e['seconds'] / 60:.1f} min"
        return t if e["ok"] else f"{t}, **failed**"

    out = [SECTION, "",
           "`python benchmarks/bench_chapters.py`: each chapter executed top to bottom in a fresh kernel "
           "(nbclient), fast mode (`COURSE_FAST=1`) and full mode (the settings the text discusses). "
           "Wall-clock times on the machines below; "
           "a chapter whose result assertions fail is marked failed.", "",
           "| chapter | " + " | ".join(f"{m} mode, {d}" for m, d in keys) + " |",
           "|---|" + "---:|" * len(keys)]
    for ch in chapters:
        out.append(f"| {ch} | " + " | ".join(cell(by.get((ch, m, d))) for m, d in keys) + " |")
    out += ["", "Slowest cell and machine of each measurement:", ""]
    for e in sorted(entries, key=lambda e: (e["device"], e["mode"], e["chapter"])):
        out.append(f"- {e['chapter']}, {e['mode']}, {e['device']} ({e['date']}): slowest cell "
                   f"{e['slowest_cell_seconds']:.0f} s (`{e['slowest_cell_start']}`); {e['machine']}"
                   + (f"; error: {e['error']}" if e["error"] else ""))
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("fast", "full"), nargs="+", default=["fast"])
    p.add_argument("--chapters", nargs="*", default=None, help="chapter prefixes, e.g. 01 04 (default: all)")
    p.add_argument("--device", default=None, help="COURSE_DEVICE for the kernels (default: cuda when available, else cpu)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.add_argument("--no-write", action="store_true", help="print only; leave chapter_times.json and RESULTS.md")
    args = p.parse_args()

    paths = sorted((REPO / "book").glob("[0-9]*.md"))
    if args.chapters:
        paths = [q for q in paths if any(q.stem.startswith(c) for c in args.chapters)]
        if not paths:
            p.error(f"no chapter matches {args.chapters}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    entries = json.loads(TIMES.read_text()) if TIMES.is_file() else []
    failed = False
    for mode in args.mode:
        for path in paths:
            print(f"{path.stem}, {mode} mode, device {device} ...", flush=True)
            e = run_chapter(path, mode, device, args.timeout)
            print(f"  {e['seconds']:.1f} s, {'ok' if e['ok'] else 'FAILED: ' + str(e['error'])}", flush=True)
            failed |= not e["ok"]
            entries = [x for x in entries if (x["chapter"], x["mode"], x["device"]) != (e["chapter"], mode, device)]
            entries.append(e)
            if not args.no_write:
                TIMES.write_text(json.dumps(entries, indent=1) + "\n")
                write_section(SECTION, table(entries))
    print(table(entries))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
