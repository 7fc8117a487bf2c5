"""Sphinx hook: read ``course_lib``'s compact docstring style as NumPy style before napoleon does.

``course_lib`` documents parameters as one line each, ``name : what it is`` (wrapped lines indented),
and often ends the list with a sentence such as "Returns the diffused field ..." or with a doctest.
Read as NumPy style, napoleon would take the text after the colon for a *type* and swallow the
closing sentence into the parameter list. This hook runs first (priority 400 < napoleon's 500) and

* turns ``name : description`` into ``name`` with the description indented below it, unless the
  text after the colon looks like a type (``int``, ``torch.Tensor | None``, ``float, optional``);
* ends a Parameters section at the first line that is neither a field nor indented (prose or a
  ``>>>`` example), by adding the blank line napoleon needs to close it;
* turns a Returns section written as prose into a ``:returns:`` field.

The docstrings themselves stay as written: they read well in ``help()`` and in an editor.
"""

from __future__ import annotations

import re

_PARAM_SECTIONS = {"parameters", "other parameters", "keyword arguments", "attributes"}
_NAMES = r"\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*"
_FIELD = re.compile(rf"^(?P<names>{_NAMES})\s+:\s+(?P<rest>.*)$")
_BARE = re.compile(rf"^{_NAMES}$")
_ATOM = r"[A-Za-z_][\w.]*(?:\[[^\]]*\])?"
_TYPE = re.compile(rf"^{_ATOM}(?:\s*(?:\||,|\bor\b)\s*{_ATOM})*(?:,\s*optional)?$")


def _is_underline(line: str | None) -> bool:
    return line is not None and re.fullmatch(r"\s*-{3,}\s*", line) is not None


def _close_section(out: list[str]) -> None:
    """Two blank lines end a NumPy section for napoleon."""
    out += [""] * (1 if out and out[-1] == "" else 2)


def normalise(lines: list[str]) -> list[str]:
    """Return ``lines`` (a dedented docstring) rewritten in the NumPy form napoleon expects."""
    out: list[str] = []
    i, section = 0, None
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if line.strip() and not line[0].isspace() and _is_underline(nxt):  # a section header
            section = line.strip().lower()
            if section == "returns":
                body_start = i + 2
                first = lines[body_start] if body_start < len(lines) else ""
                if first.strip() and not _FIELD.match(first) and not _TYPE.match(first.strip()):
                    # prose: a :returns: field holding the paragraph
                    j = body_start
                    para = []
                    while j < len(lines) and lines[j].strip():
                        para.append(lines[j].strip())
                        j += 1
                    _close_section(out)
                    out += [":returns: " + para[0], *("   " + p for p in para[1:])]
                    i, section = j, None
                    continue
            out += [line, nxt]
            i += 2
            continue
        if section in _PARAM_SECTIONS and line.strip() and not line[0].isspace():
            m = _FIELD.match(line)
            if m and not _TYPE.match(m["rest"].strip()):
                out += [m["names"], "    " + m["rest"]]
                i += 1
                continue
            if not m and not _BARE.match(line):  # prose or a doctest after the list: close the section
                _close_section(out)
                section = None
        out.append(line)
        i += 1
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = normalise(lines)


def setup(app):
    app.setup_extension("sphinx.ext.napoleon")
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
