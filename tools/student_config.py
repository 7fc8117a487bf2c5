"""Write the student edition's Jupyter Book config: ``_config.yml`` with the solutions left out.

``python tools/student_config.py OUT.yml`` (used by ``make book-student``). Generated, so the two
editions never drift apart. Differences from ``_config.yml``:

* ``hide_solutions: true`` (sphinx-exercise drops every ``{solution}`` block);
* no copy of the page sources and no download button: the ``.md``/``.ipynb`` sources still hold the
  solutions;
* "(student edition)" in the title.

``--no-execute`` also turns notebook execution off (pages without outputs): CI uses it to check the
edition itself (no solutions, no sources, a clean -W build) in seconds, the default build having
already executed every chapter.
"""

from __future__ import annotations

import sys
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
    # local extension paths are relative to the config file: make them absolute for OUT.yml
    sphinx["local_extensions"] = {name: str((source.parent / path).resolve())
                                  for name, path in sphinx.get("local_extensions", {}).items()}
    config["title"] = f"{config['title']} (student edition)"
    if not execute:
        config.setdefault("execute", {})["execute_notebooks"] = "off"
    return config


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1 or set(sys.argv[1:]) - {*args, "--no-execute"}:
        sys.exit("usage: python tools/student_config.py OUT.yml [--no-execute]")
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(student_config(execute="--no-execute" not in sys.argv), sort_keys=False))
    print("wrote", out)
