"""Write the JupyterLab settings the course needs into ``$JUPYTER_CONFIG_DIR``.

``python tools/lab_settings.py`` (the ``make lab`` target and the browser test call it) merges into
``labconfig/default_setting_overrides.json``:

* MyST markdown files open as notebooks (jupytext), like ``jupytext-config set-default-viewer
  markdown myst`` -- but ``.py`` files stay text files, so the library reads as code;
* no news and no update checks (offline, and no pop-up in front of the class);
* ``--no-autosave``: autosave off (the browser test must never write the chapters back).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

COURSE_SETTINGS = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"},
    },
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
}


def write(config_dir: Path, autosave: bool = True) -> Path:
    path = Path(config_dir) / "labconfig" / "default_setting_overrides.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}
    for plugin, values in COURSE_SETTINGS.items():
        settings.setdefault(plugin, {}).update(values)
    if not autosave:
        settings["@jupyterlab/docmanager-extension:plugin"]["autosave"] = False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


if __name__ == "__main__":
    config_dir = os.environ.get("JUPYTER_CONFIG_DIR")
    if not config_dir:
        sys.exit("set JUPYTER_CONFIG_DIR (make lab uses .jupyter/ in the repository)")
    print("wrote", write(Path(config_dir), autosave="--no-autosave" not in sys.argv))
