#!/usr/bin/env bash
# Release readiness, for CI and before tagging a release (about a minute):
#   1. python -m build: an sdist, and a wheel built from that sdist (so the sdist is complete);
#   2. twine check --strict on both;
#   3. the wheel installed on its own into an empty folder (no editable install, no source tree on
#      the path), checked to be the copy that is imported, with py.typed and the console script;
#   4. `invariant-inr demo --quick` run from that installed copy, and its outputs checked.
#
# Environment:
#   PYTHON=...                        the interpreter whose packages (torch, ...) the wheel runs on (default: python)
#   RELEASE_CHECK_NO_ISOLATION=1      build with the current environment's setuptools (offline)
#   RELEASE_CHECK_FRESH_VENV=1        also install the wheel with its dependencies into a new virtual
#                                     environment and run the demo there (needs the package index)
#   RELEASE_CHECK_KEEP=DIR            keep the build outputs in DIR instead of a temporary folder
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PYTHON=${PYTHON:-python}

if [[ -n "${RELEASE_CHECK_KEEP:-}" ]]; then
  work=$RELEASE_CHECK_KEEP
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
say() { printf '[release-check] %s\n' "$*"; }

# -- tools ---------------------------------------------------------------------------------------
if ! "$PYTHON" -c "import build, twine" >/dev/null 2>&1; then
  say "installing build and twine"
  "$PYTHON" -m pip install -q build twine
fi

# -- 1. build --------------------------------------------------------------------------------------
version=$("$PYTHON" -c "import re, pathlib; print(re.search(r'__version__ = \"([^\"]+)\"', pathlib.Path('src/invariant_inr/_version.py').read_text()).group(1))")
say "building invariant-inr $version"
build_flags=()
if [[ "${RELEASE_CHECK_NO_ISOLATION:-0}" == "1" ]]; then build_flags+=(--no-isolation); fi
"$PYTHON" -m build ${build_flags[@]+"${build_flags[@]}"} --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
sdist="$work/dist/invariant_inr-$version.tar.gz"
wheel="$work/dist/invariant_inr-$version-py3-none-any.whl"
for file in "$sdist" "$wheel"; do
  [[ -f "$file" ]] || { say "missing $file"; ls -l "$work/dist"; exit 1; }
done
say "built $(basename "$sdist") and $(basename "$wheel")"

# -- 2. metadata -----------------------------------------------------------------------------------
"$PYTHON" -m twine check --strict "$work"/dist/*
"$PYTHON" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = set(zipfile.ZipFile(wheel).namelist())
for required in ("invariant_inr/py.typed", "invariant_inr/cli/__init__.py", "invariant_inr/__main__.py"):
    assert required in names, f"the wheel lacks {required}"
entry = next(n for n in names if n.endswith("entry_points.txt"))
assert "invariant-inr = invariant_inr.cli:main" in zipfile.ZipFile(wheel).read(entry).decode(), "no console script"
assert not any(n.startswith(("tests/", "docs/", "examples/")) for n in names), "the wheel holds non-package files"
members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
for required in ("LICENSE", "README.md", "CHANGELOG.md", "CITATION.cff", "pyproject.toml", "tests/conftest.py", "docs/conf.py"):
    assert required in members, f"the sdist lacks {required}"
print("[release-check] wheel and sdist contents ok")
EOF

# -- 3. the wheel on its own -----------------------------------------------------------------------
site="$work/site"
"$PYTHON" -m pip install -q --no-deps --no-compile --target "$site" "$wheel"
cd "$work"  # away from the source tree, so that only the installed copy can be imported
PYTHONPATH="$site" "$PYTHON" - "$site" "$version" <<'EOF'
import pathlib, sys
import invariant_inr
site, version = sys.argv[1:]
where = pathlib.Path(invariant_inr.__file__).resolve()
assert where.is_relative_to(pathlib.Path(site).resolve()), f"imported {where}, not the installed wheel"
assert invariant_inr.__version__ == version, (invariant_inr.__version__, version)
assert (where.parent / "py.typed").is_file()
print(f"[release-check] imports invariant_inr {version} from the wheel")
EOF
PYTHONPATH="$site" "$site/bin/invariant-inr" --version

# -- 4. the demo from the installed wheel ----------------------------------------------------------
say "running invariant-inr demo --quick from the wheel"
PYTHONPATH="$site" "$site/bin/invariant-inr" demo --quick --out "$work/demo" --no-progress
PYTHONPATH="$site" "$PYTHON" - "$work/demo" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for name in ("reconstructions.png", "scores.json", "model.pt"):
    assert (out / name).stat().st_size > 0, name
scores = json.loads((out / "scores.json").read_text())
assert {"clustering", "pose_recovery", "invariance", "training"} <= set(scores)
from invariant_inr import IRLINR
IRLINR.load(out / "model.pt")
print("[release-check] demo outputs ok")
EOF

# -- optional: a fresh virtual environment with dependencies from the index --------------------------
if [[ "${RELEASE_CHECK_FRESH_VENV:-0}" == "1" ]]; then
  say "fresh virtual environment: pip install the wheel with its dependencies"
  "$PYTHON" -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install -q "$wheel[plot]"
  "$work/venv/bin/invariant-inr" demo --quick --out "$work/demo-venv" --no-progress
  test -s "$work/demo-venv/scores.json"
fi
cd "$root"
say "all release checks passed"
