"""The documentation builds with warnings as errors, and the API reference covers every public module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import invariant_inr

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = Path(invariant_inr.__file__).resolve().parent


def public_modules() -> set[str]:
    """Public modules and subpackages (``datasets/``, ``cluster/``) of the package."""
    files = {path.stem for path in PACKAGE.glob("*.py")}
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    return {name for name in files | packages if not name.startswith("_")}


def documented_modules() -> set[str]:
    text = "\n".join(path.read_text() for path in (DOCS / "api").glob("*.rst"))
    return set(re.findall(r"^\.\. automodule:: invariant_inr\.(\w+)", text, flags=re.MULTILINE))


def test_every_public_module_is_in_the_api_reference() -> None:
    missing = public_modules() - documented_modules()
    assert not missing, f"add these modules to docs/api/: {sorted(missing)}"
    assert documented_modules() <= public_modules(), "docs/api/ names a module that does not exist"


def test_figures_are_committed_and_small() -> None:
    for name in ("coordinates.png", "measurement.png"):
        path = DOCS / "_static" / name
        assert path.is_file(), f"run python docs/make_figures.py ({name} missing)"
        assert path.stat().st_size < 200_000


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::PendingDeprecationWarning")  # Sphinx's API notices
def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    pytest.importorskip("furo")
    pytest.importorskip("myst_parser")
    from sphinx.cmd.build import build_main

    out = tmp_path / "html"
    # in this process: torch and the package are already imported, which saves most of the time
    code = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)])
    assert code == 0, "sphinx-build -W reported warnings (see the captured stderr)"
    for page in ("index", "getting_started", "concepts", "cli", "api/model", "howto/gpu", "changelog"):
        assert (out / f"{page}.html").is_file(), page
    api = (out / "api" / "model.html").read_text()
    assert "IRLINR" in api and "reconstruct" in api
    cli_page = (out / "cli.html").read_text()
    assert "invariant-inr embed" in cli_page and "--checkpoint-dir" in cli_page  # generated from the parser
