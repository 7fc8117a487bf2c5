"""The chapters in JupyterLab, driven like a student would (``pytest -m browser``).

A JupyterLab server starts on 127.0.0.1 with a token, a throw-away configuration (settings from
``tools/lab_settings.py``, autosave off) and ``COURSE_FAST=1``, on a copy of ``book/`` and
``jupytext.toml`` (so nothing is ever written back to the chapters, and an edit made meanwhile does
not disturb the run; the kernel imports the installed ``course_lib``). For every chapter ``book/[0-9]*.md`` the test opens the MyST file as a notebook
(jupytext), runs all cells from the Run menu, checks that no cell shows an error, then moves the first
slider of the chapter's widget with the keyboard and times how long the figure below it takes to
change. The times go to ``_build/widget_times.json``; a redraw must take at most 2 s
(``WIDGET_BUDGET_S`` overrides, e.g. on a loaded machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import pytest

from browser_util import REPO, is_local

pytestmark = pytest.mark.browser

sys.path.insert(0, str(REPO / "tools"))
import lab_settings  # noqa: E402

CHAPTERS = sorted(p.stem for p in (REPO / "book").glob("[0-9]*.md"))
RUN_ALL_TIMEOUT_S = float(os.environ.get("LAB_RUN_ALL_TIMEOUT_S", 900))
WIDGET_BUDGET_S = float(os.environ.get("WIDGET_BUDGET_S", 2.0))
N_MOVES = 3  # slider moves per chapter; the median is compared with the budget
QUIET_MS = 1000  # a redraw is over when the figure has not changed for this long
TIMES_FILE = REPO / "_build" / "widget_times.json"
SCREENSHOTS = REPO / "_build" / "screenshots"
WIDGET_IMG = '.jp-OutputArea-output[data-mime-type="image/png"] img'
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the visible tab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the chapters; stopped (with its kernels) however the tests end."""
    tmp = tmp_path_factory.mktemp("jupyter")
    env = dict(os.environ, COURSE_FAST="1", PYTHONHASHSEED="0")
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                     ("IPYTHONDIR", "ipython")]:
        env[var] = str(tmp / sub)
    root = tmp / "course"  # what the server serves: a copy of the chapters and the jupytext pairing
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy2(REPO / "jupytext.toml", root / "jupytext.toml")
    settings = lab_settings.write(tmp / "config", autosave=False)
    overrides = json.loads(settings.read_text())
    # Keep every cell in the DOM (JupyterLab 4 may virtualise long notebooks) so the test sees all outputs.
    overrides["@jupyterlab/notebook-extension:tracker"] = {"windowingMode": "none"}
    settings.write_text(json.dumps(overrides, indent=2))

    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "w")
    # Own process group: the kernels it starts are stopped with it.
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"base": base, "token": token, "log": tmp / "lab.log"}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _shutdown_kernels(lab: dict) -> None:
    api = f"{lab['base']}/api/kernels"
    headers = {"Authorization": f"token {lab['token']}"}
    with urllib.request.urlopen(urllib.request.Request(api, headers=headers), timeout=10) as r:
        kernels = json.load(r)
    for k in kernels:
        req = urllib.request.Request(f"{api}/{k['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(req, timeout=30).close()


def _record(chapter: str, entry: dict) -> None:
    TIMES_FILE.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(TIMES_FILE.read_text()) if TIMES_FILE.is_file() else {}
    times[chapter] = entry
    TIMES_FILE.write_text(json.dumps(times, indent=2) + "\n")


def _progress(page) -> dict:
    return page.evaluate("""() => {
        const nb = document.querySelector('%s');
        const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
        return {
            cells: prompts.length,
            running: prompts.filter(p => p.includes('*')).length,
            done: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
            errors: nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').length,
        };
    }""" % NOTEBOOK)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_and_widget_redraws(browser, lab, chapter):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        # A fresh workspace per chapter, so the previous chapter's tab is not restored next to it.
        page.goto(f"{lab['base']}/lab/workspaces/{chapter}/tree/book/{chapter}.md?reset&token={lab['token']}")
        nb = page.locator(NOTEBOOK)
        nb.locator(".jp-CodeCell").first.wait_for(timeout=120_000)
        nb.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=120_000)

        # Run -> Run All Cells, as in class (the notebook must be the active document for the menu to act).
        nb.locator(".jp-Cell").first.click()
        page.click(".lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item[data-command='runmenu:run-all']:not(.lm-mod-disabled)")
        t0 = time.perf_counter()
        deadline, last_print = time.monotonic() + RUN_ALL_TIMEOUT_S, 0.0
        while True:
            state = _progress(page)
            if state["errors"] or (state["running"] == 0 and state["done"] == state["cells"] > 0):
                break
            if time.monotonic() - last_print > 30:
                print(f"{chapter}: {time.perf_counter() - t0:.0f} s, {state}", flush=True)
                last_print = time.monotonic()
            assert time.monotonic() < deadline, f"{chapter}: run all did not finish in {RUN_ALL_TIMEOUT_S:.0f} s: {state}"
            page.wait_for_timeout(1000)
        run_all_s = time.perf_counter() - t0

        errors = nb.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').all_inner_texts()
        stderr = nb.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        tracebacks = [t for t in stderr if "Traceback" in t]
        assert not errors and not tracebacks, f"{chapter}: error output:\n" + "\n---\n".join(errors + tracebacks)[:4000]
        assert state["done"] == state["cells"], f"{chapter}: not every code cell ran: {state}"

        # The chapter's widget: the code cell with a slider that calls a *_widget() function.
        cells = nb.locator(".jp-CodeCell:has(.widget-slider)")
        widget_cells = cells.filter(has=page.locator(".jp-InputArea", has_text="_widget("))
        cell = widget_cells.first if widget_cells.count() else cells.first
        assert cells.count(), f"{chapter}: no widget slider found after running all cells"
        cell.scroll_into_view_if_needed()
        handle = cell.locator(".noUi-handle").first
        # Timestamps of every change of the figure under the widget, recorded in the page.
        cell.evaluate("""(cell, sel) => {
            window.__figureChanges = [];
            const out = cell.querySelector('.jp-OutputArea');
            let src = out.querySelector(sel)?.src;
            new MutationObserver(() => {
                const now = out.querySelector(sel)?.src;
                if (now && now !== src) { src = now; window.__figureChanges.push(performance.now()); }
            }).observe(out, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
        }""", WIDGET_IMG)
        # Start from a still figure (the slider views may sync a value, and redraw, once after display).
        page.wait_for_timeout(QUIET_MS)
        page.wait_for_function("""(quiet) => { const c = window.__figureChanges;
                                   return c.length === 0 || performance.now() - c[c.length - 1] > quiet; }""",
                               arg=QUIET_MS, timeout=60_000, polling=50)
        seconds = []
        for _ in range(N_MOVES):
            before = cell.locator(WIDGET_IMG).first.get_attribute("src")
            handle.focus()
            t_press = page.evaluate("() => performance.now()")
            handle.press("ArrowRight")
            # Done when the figure has changed and then stayed the same for QUIET_MS (one move may
            # trigger more than one redraw); the time is the last change after the key press.
            page.wait_for_function(
                """([t, quiet]) => { const c = window.__figureChanges.filter(x => x > t);
                                     return c.length > 0 && performance.now() - c[c.length - 1] > quiet; }""",
                arg=[t_press, QUIET_MS], timeout=60_000, polling=50)
            last = page.evaluate("(t) => Math.max(...window.__figureChanges.filter(x => x > t))", t_press)
            seconds.append(round((last - t_press) / 1000, 3))
            assert cell.locator(WIDGET_IMG).first.get_attribute("src") != before, f"{chapter}: figure did not change"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(SCREENSHOTS / f"lab__{chapter}.png"))

        median = statistics.median(seconds)
        _record(chapter, {"redraw_seconds": seconds, "median_s": median, "budget_s": WIDGET_BUDGET_S,
                          "run_all_seconds": round(run_all_s, 1)})
        print(f"\n{chapter}: run all {run_all_s:.1f} s; slider -> new figure {seconds} s (median {median:.2f} s)")

        external = [u for u in requests if not is_local(u)]
        assert not external, f"{chapter}: JupyterLab made external requests: {external[:10]}"
        assert median <= WIDGET_BUDGET_S, f"{chapter}: widget redraw took {median:.2f} s (> {WIDGET_BUDGET_S} s): {seconds}"
    except BaseException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"lab__{chapter}__failure.png"))
        except Exception:  # the browser may already be gone (Ctrl-C)
            pass
        print(f"JupyterLab log (tail):\n{lab['log'].read_text()[-3000:]}")
        raise
    finally:
        context.close()
        _shutdown_kernels(lab)  # free the CPU for the next chapter
