"""The built book, opened page by page in headless Chromium (``pytest -m browser``).

Build first (``make book-fast``), then ``make browser``. Every HTML page of ``_build/html`` (or of
``$BOOK_HTML``, e.g. ``_build/student/html``) is served from 127.0.0.1 and checked for what a reader
would notice, at 1280 px and at 800 px wide: console errors, broken images, raw TeX, error output in a
cell, dead internal links, any request that leaves the machine, a formula or a code line wider than the
text column, a cell's image without alt text that says what it shows, and, on every chapter, a player
(``course_lib.plotting.frame_player``) whose frame changes when the reader steps it. The search page
must find words offline. A full-page screenshot of each page at each width goes to
``_build/screenshots/<edition>/``.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import importlib.util
import inspect
import os
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from browser_util import REPO, is_local

pytestmark = pytest.mark.browser

HTML = Path(os.environ.get("BOOK_HTML", REPO / "_build" / "fast" / "html")).resolve()
STUDENT_EDITION = "student" in HTML.parts  # make book-student: _build/student/html
SCREENSHOTS = REPO / "_build" / "screenshots" / ("student" if STUDENT_EDITION else HTML.parent.name)
WIDTHS = (1280, 800)
CHAPTER_PAGE = re.compile(r"book/\d\d_\w+\.html$")
# An alt text that is a file name or a path says nothing about the picture.
FILE_NAME_ALT = re.compile(r"(\.(png|jpe?g|svg|gif)$|_images/|^[0-9a-f]{16,})", re.I)
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
PAGES = sorted(
    p.relative_to(HTML).as_posix()
    for p in HTML.rglob("*.html")
    if not SKIP_DIRS.intersection(p.relative_to(HTML).parts)
) if HTML.is_dir() else []

# The only console messages allowed (TOOLCHAIN.md: harmless, known, from the theme's own scripts).
HARMLESS_CONSOLE = [
    re.compile(r"THEBE_JS_URL.*(already been declared|redeclar)", re.I),
    re.compile(r"invalid theme mode", re.I),
    re.compile(r"favicon\.ico.*404|404.*favicon\.ico", re.I),
]
# Text that means a cell's output is broken: a traceback, or a widget/figure repr instead of a picture.
# (A chapter may *print* an exception it caught on purpose, so "ValueError: ..." alone is fine.)
BROKEN_OUTPUT = [
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"\b(HBox|VBox|FloatProgress|IntProgress|interactive|Output)\(children=|\bFloatProgress\(value="),
    re.compile(r"<Figure size \d+x\d+ with \d+ Axes>"),
    re.compile(r"<IPython\.core\.display\.\w+ object>"),
]


class _Ids(HTMLParser):
    """Collects every ``id`` (and legacy ``<a name>``) of an HTML file: the anchors a link may target."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def server():
    if not PAGES:
        pytest.skip(f"no built book in {HTML}: run `make book-fast` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: a free port
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def local_target(href: str, base: str) -> tuple[Path, str] | None:
    """(file, fragment) that a same-server link points to, or None for an external link."""
    parts = urlsplit(href)
    if not parts.path.startswith("/") or not href.startswith(base):
        return None
    rel = unquote(parts.path).lstrip("/")
    target = HTML / rel
    if rel == "" or target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_path", PAGES)
def test_page(browser, server, page_path, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    requests, console, page_errors, failed = [], [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text} @ {m.location.get('url', '')}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    try:
        page.goto(f"{server}/{page_path}", wait_until="load")
        redirect = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"',
                             (HTML / page_path).read_text(encoding="utf-8", errors="replace"), re.I)
        if redirect:  # e.g. index.html -> book/intro.html: check the page it lands on
            page.wait_for_url(f"**/{redirect.group(1).lstrip('./')}", wait_until="load")
        # Images: force lazy ones to load, then wait for every one to settle.
        page.evaluate("""() => Promise.all([...document.images].map(img => {
            img.loading = 'eager';
            return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
        }))""")
        has_math = page.locator(".math").count() > 0
        if has_math:
            page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=20_000)
            page.evaluate("() => MathJax.startup.promise.then(() => true)")  # typesetting finished
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_path.replace('/', '__')[:-5]}_{width}.png"), full_page=True)

        problems: list[str] = []
        # 1. Requests: nothing may leave the machine.
        problems += [f"external request: {u}" for u in requests if not is_local(u)]
        # 2. Console errors and uncaught exceptions, except the known-harmless ones.
        problems += [f"console {c}" for c in console + page_errors
                     if not any(p.search(c) for p in HARMLESS_CONSOLE)]
        problems += [f"failed request: {f}" for f in failed if "favicon.ico" not in f]
        # 3. Images actually decoded.
        broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                               ".map(i => i.getAttribute('src'))")
        problems += [f"image did not load: {src}" for src in broken]
        # 4. Maths typeset: every math element holds MathJax output and no TeX error.
        if has_math:
            raw = page.evaluate("() => [...document.querySelectorAll('.math')]"
                                ".filter(e => !e.querySelector('mjx-container') && e.tagName !== 'MJX-CONTAINER')"
                                ".map(e => e.textContent.trim().slice(0, 60))")
            problems += [f"maths not rendered: {t!r}" for t in raw]
            errs = page.evaluate("() => [...document.querySelectorAll('mjx-merror')].map(e => e.textContent)")
            problems += [f"MathJax error: {t!r}" for t in errs]
        # 5. No cell shows an error, a traceback, or a text repr where a picture/widget belongs.
        n_err = page.locator(".cell_output .traceback, .cell_output .output.error").count()
        problems += [f"{n_err} error output(s) in cells"] if n_err else []
        for text in page.locator(".cell_output").all_inner_texts():
            problems += [f"broken cell output: {text[:120]!r}" for p in BROKEN_OUTPUT if p.search(text)]
        # 6. Solutions: collapsed in the full book, absent (with the page sources) in the student edition.
        solutions = page.evaluate("() => [...document.querySelectorAll('.solution')].map(e => e.className)")
        if STUDENT_EDITION:
            problems += [f"student edition shows {len(solutions)} solution(s)"] if solutions else []
            problems += ["student edition links to page sources"] if page.locator("a[href*='_sources/']").count() else []
        else:
            problems += [f"solution not collapsed: {c!r}" for c in solutions if "dropdown" not in c.split()]
        # 7. Nothing wider than the window (a long signature or table would scroll the whole page), no
        #    display formula wider than its box, no code line longer than its block.
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
        problems += [f"page is {page_width}px wide, wider than the {width}px window"] if page_width > width + 1 else []
        wide_maths = page.evaluate("""() => [...document.querySelectorAll('mjx-container[display="true"]')]
            .filter(m => m.scrollWidth > m.clientWidth + 1 || m.getBoundingClientRect().width > m.parentElement.clientWidth + 1)
            .map(m => `${m.scrollWidth}px in ${m.clientWidth}px: ${(m.querySelector('mjx-assistive-mml') || m).textContent.slice(0, 50)}`)""")
        problems += [f"formula wider than the column: {w}" for w in wide_maths]
        wide_code = page.evaluate("""() => [...document.querySelectorAll('div.highlight pre')]
            .filter(p => p.scrollWidth > p.clientWidth + 1)
            .map(p => `${p.scrollWidth}px in ${p.clientWidth}px: ${p.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 70)}`)""")
        problems += [f"code line longer than the column: {w}" for w in wide_code]
        # 7b. Every picture in a cell's output says what it shows.
        alts = page.evaluate("() => [...document.querySelectorAll('.cell_output img')].map(i => i.getAttribute('alt') || '')")
        problems += [f"cell image without a meaningful alt text: {a!r}" for a in alts
                     if len(a.strip()) < 10 or FILE_NAME_ALT.search(a.strip())]
        # 8. Internal links resolve: the page exists and so does the anchor.
        for href in set(page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")):
            target = local_target(href, server)
            if target is None:
                continue
            path, fragment = target
            if not path.is_file():
                problems.append(f"dead link: {href}")
            elif fragment and path.suffix == ".html" and fragment not in anchors(path):
                problems.append(f"dead anchor: {href}")
        assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)
    finally:
        context.close()


CHAPTERS = [p for p in PAGES if CHAPTER_PAGE.search(p)]


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_has_a_player_that_steps(browser, server, page_path):
    """Each chapter has a figure the reader steps through without a kernel: "Next frame" changes it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server}/{page_path}", wait_until="load")
        if STUDENT_EDITION and page.locator("div.cell_output").count() == 0:
            pytest.skip("this student edition was built without executing the chapters (--no-execute)")
        players = page.locator("div.cell_output div.animation")
        assert players.count() >= 1, f"{page_path} has no frame player (course_lib.plotting.frame_player)"
        for i in range(players.count()):
            player = players.nth(i)
            img = player.locator("img").first
            before = img.get_attribute("src")
            player.locator("button[title='Next frame']").click()
            page.wait_for_timeout(100)
            after = img.get_attribute("src")
            assert before and after and before != after, f"{page_path}: player {i + 1} shows the same frame after a step"
            alt = img.get_attribute("alt") or ""
            assert len(alt) >= 10 and not FILE_NAME_ALT.search(alt), f"{page_path}: player {i + 1} has no alt text"
    finally:
        context.close()


@pytest.mark.parametrize("query", ["simplex", "Tweedie"])
def test_search_works_offline(browser, server, query):
    """Sphinx's search page finds the course's words from its local index (searchindex.js)."""
    if not (HTML / "search.html").is_file():
        pytest.skip("no search page in this build")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server}/search.html?q={query}", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        hits = page.locator("#search-results ul.search li").count()
        assert hits >= 1, f"the search for {query!r} found nothing"
    finally:
        context.close()


# Names of /work/shared/COURSE_LIB_CONTRACT.md (the public API the chapters and readers rely on).
CONTRACT = {
    "operators": ["LinearOperator", "LinearOperator.forward", "LinearOperator.adjoint", "Blur", "Inpainting",
                  "add_gaussian_noise"],
    "projections": ["project_simplex"],
    "kernels": ["motion_blur_kernel"],
    "sigma": ["gaussian_kernel1d", "gaussian_blur1d", "gaussian_blur2d", "GaussianBlur2d"],
    "heat": ["diffuse", "inverse_diffuse", "heat_sources"],
    "sip": ["train_heat_inverter"],
    "diffusion": ["linear_betas", "alphas_cumprod", "GaussianPriorDenoiser", "dps_sample"],
}


def test_reference_lists_the_public_api():
    """book/reference.md documents every public function and class of each module it names."""
    page = HTML / "book" / "reference.html"
    if not page.is_file():
        pytest.skip(f"{page} not built")
    ids = anchors(page)
    documented = re.findall(r"automodule::\s+(\S+)", (REPO / "book" / "reference.md").read_text())
    missing = []
    for module in documented:
        mod = importlib.import_module(module)
        # Constants need a `#:` comment to be documented; functions and classes always are.
        missing += [f"{module}.{name}" for name in getattr(mod, "__all__", [])
                    if (inspect.isclass(getattr(mod, name)) or inspect.isroutine(getattr(mod, name)))
                    and f"{module}.{name}" not in ids]
    for short, names in CONTRACT.items():
        module = f"course_lib.{short}"
        if importlib.util.find_spec(module) is None:
            continue  # a chapter's module that has not landed yet
        assert module in documented, f"book/reference.md has no automodule line for {module}"
        missing += [f"{module}.{n}" for n in names if f"{module}.{n}" not in ids]
    assert not missing, f"not in the library reference: {missing}"
