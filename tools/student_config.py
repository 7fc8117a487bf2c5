"""The student edition's Jupyter Book config: ``_config.yml`` with the solutions left out.

Used by ``tools/student_edition.py`` (``make book-student``). Generated, so the two editions never
drift apart. Differences from ``_config.yml``:

* ``hide_solutions: true`` (sphinx-exercise drops every ``{solution}`` block; the gated
  ``solution-start``/``solution-end`` blocks are removed from the sources by ``student_edition.py``);
* no copy of the page sources and no download button: the ``.md``/``.ipynb`` sources still hold the
  solutions;
* "(student edition)" in the title.

``execute=False`` also turns notebook execution off (pages without outputs): CI uses it to check the
edition itself (no solutions, no sources, a clean -W build) in seconds, the default build having
already executed every chapter.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jupyter_book.config import get_final_config

ROOT = Path(__file__).resolve().parents[1]


def student_config(source: Path = ROOT / "_config.yml", execute: bool = True) -> dict:
    config = yaml.safe_load(source.read_text())
    sphinx = config.setdefault("sphinx", {})
    # The theme options Jupyter Book derives from the `html:` section, plus "no download button"
    # (sphinx.config replaces the whole dict, so start from the derived one).
    final, _ = get_final_config(user_yaml=source, sourcedir=ROOT, cli_config={"latex_individualpages": False})
    theme = dict(final["html_theme_options"], use_download_button=False)
    sphinx.setdefault("config", {}).update(hide_solutions=True, html_copy_source=False, html_theme_options=theme)
    # local extension paths are relative to the config file: make them absolute for the copy
    sphinx["local_extensions"] = {name: str((source.parent / path).resolve())
                                  for name, path in sphinx.get("local_extensions", {}).items()}
    config["title"] = f"{config['title']} (student edition)"
    if not execute:
        config.setdefault("execute", {})["execute_notebooks"] = "off"
    return config

