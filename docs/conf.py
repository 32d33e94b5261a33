"""Sphinx configuration of the invariant-inr documentation.

Build (warnings are errors, as in CI)::

    sphinx-build -W -b html docs docs/_build/html

Intersphinx links to the PyTorch, NumPy and Python documentation need the network, so they are on
only with ``DOCS_INTERSPHINX=1`` (an offline fetch would be a warning, hence an error under ``-W``).
The Markdown reports written by the benchmarks (``results.md``, ``performance.md``,
``reliability.md``) and ``../CHANGELOG.md`` are included when they exist; a checkout without
them still builds.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))  # build from a checkout without installing

import invariant_inr  # noqa: E402

project = "invariant-inr"
author = "invariant-inr developers"
copyright = "2026, invariant-inr developers"  # noqa: A001 - Sphinx's name
release = invariant_inr.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "myst_parser",
]
try:  # optional: richer type hints in the API pages
    import sphinx_autodoc_typehints  # noqa: F401
except ImportError:  # pragma: no cover - depends on the docs environment
    pass
else:
    extensions.append("sphinx_autodoc_typehints")
    # its 3.x releases call a Sphinx API that Sphinx 9 deprecates; the notice is not ours to fix
    warnings.filterwarnings("ignore", message=".*set_application.*is deprecated", module="sphinx_autodoc_typehints")

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_mathjax", "Thumbs.db", ".DS_Store", "README.md"]
templates_path: list[str] = []

# -- autodoc / napoleon ---------------------------------------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
napoleon_use_ivar = True  # "Attributes:" as a field list: no duplicate entries for NamedTuple fields
typehints_fully_qualified = False
always_document_param_types = False
typehints_document_rtype = True

# -- MyST (Markdown pages) ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# reports are written for GitHub as much as for this site: links to files outside docs/ are fine there
suppress_warnings = ["myst.xref_missing", "myst.header"]

# -- intersphinx (network; opt-in) ----------------------------------------------------------------
if os.environ.get("DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "numpy": ("https://numpy.org/doc/stable", None),
    }
else:
    intersphinx_mapping = {}

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"invariant-inr {release}"
html_static_path = ["_static"]

# -- mathematics offline --------------------------------------------------------------------------
# Sphinx loads MathJax from a CDN by default, so formulas stay raw \(...\) where no network reaches
# it. With a local MathJax 3 (its ``es5`` folder: ``npm install --prefix docs/_mathjax mathjax@3``,
# or any folder named by INVARIANT_INR_MATHJAX) the site carries its own copy and reads offline.


def local_mathjax() -> Path | None:
    """The ``es5`` folder of a local MathJax 3 with ``tex-chtml.js``, or None (then the CDN is used)."""
    named = os.environ.get("INVARIANT_INR_MATHJAX")
    for folder in ([Path(named)] if named else []) + [DOCS / "_mathjax" / "node_modules" / "mathjax" / "es5"]:
        if (folder / "tex-chtml.js").is_file():
            return folder.resolve()
    if named:
        raise FileNotFoundError(f"INVARIANT_INR_MATHJAX={named!r} holds no tex-chtml.js (give MathJax 3's es5 folder)")
    return None


MATHJAX = local_mathjax()
if MATHJAX is not None:
    html_static_path.append(str(MATHJAX.parent))  # copied as _static/es5/...
    mathjax_path = "es5/tex-chtml.js"
html_theme_options = {"source_repository": "https://github.com/invariant-inr/invariant-inr", "source_branch": "main",
                      "source_directory": "docs/"}

# -- optional pages -------------------------------------------------------------------------------
REPORTS = ("results", "performance", "reliability")  # Markdown files other tools write into docs/
REPORT_PLACEHOLDER = "   @REPORTS@"


def present_reports() -> list[str]:
    """The report pages that exist in this checkout, in a fixed order."""
    return [name for name in REPORTS if (DOCS / f"{name}.md").is_file()]


def _fill_placeholders(app, docname: str, source: list[str]) -> None:  # noqa: ANN001 - Sphinx's signature
    text = source[0]
    if docname == "index" and REPORT_PLACEHOLDER in text:
        pages = present_reports()
        text = text.replace(REPORT_PLACEHOLDER, "\n".join(f"   {name}" for name in pages) if pages else "")
    if docname == "changelog" and not (ROOT / "CHANGELOG.md").is_file():
        text = "# Changelog\n\nThis checkout has no `CHANGELOG.md`.\n"
    if docname == "cli" and "@CLI_HELP@" in text:
        text = text.replace("@CLI_HELP@", _cli_help())
    source[0] = text


def _cli_help() -> str:
    """The ``--help`` text of every command, as reST literal blocks (so the page never drifts from the code)."""
    from invariant_inr import cli

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width
    parser = cli.build_parser()
    blocks = []
    subparsers = next(action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction")
    for name, sub in [("invariant-inr", parser), *subparsers.choices.items()]:
        title = name if name == "invariant-inr" else f"invariant-inr {name}"
        text = sub.format_help().rstrip()
        blocks.append(f"{title}\n{'-' * len(title)}\n\n.. code-block:: text\n\n" + "\n".join(
            f"   {line}" if line else "" for line in text.splitlines()
        ))
    return "\n\n".join(blocks)


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's signature
    app.connect("source-read", _fill_placeholders)
    return {"parallel_read_safe": True}
