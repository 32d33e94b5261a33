#!/usr/bin/env bash
# The README's first command, as a new user runs it: a copy of the repository's files in a new
# folder, the line taken verbatim from README.md (only `invariant-inr demo` made `--quick`), run by
# the machine's own python3 with no virtual environment active, so the new .venv holds exactly what
# that line installs (no --system-site-packages, no test extras). Then the files the demo wrote are
# checked. A dependency the line does not install makes this fail.
#
# Usage: bash .ci/readme_first_line.sh            (from anywhere; about 3 minutes, most of it pip)
# Environment: README_CHECK_KEEP=DIR keeps the copy and its .venv in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[readme-first-line] %s\n' "$*"; }

line=$(awk '/^```bash/ { getline; print; exit }' README.md)
case "$line" in
  *"invariant-inr demo"*) ;;
  *) say "the README's first command does not run the demo: $line"; exit 1 ;;
esac
quick_line=${line/invariant-inr demo/invariant-inr demo --quick --no-progress}
say "README: $line"

if [[ -n "${README_CHECK_KEEP:-}" ]]; then
  work=$README_CHECK_KEEP
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
# the repository's files as a clone has them (tracked files, as they are in the working tree)
git ls-files -z | tar --null -T - -cf - | tar -x -C "$work"

# a new user's shell: no virtual environment active, nothing of ours on the path
clean_path=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '\.venv' -e "${VIRTUAL_ENV:-/nonexistent}" | paste -sd: -)
say "running: $quick_line"
(cd "$work" && env -u VIRTUAL_ENV -u PYTHONPATH -u PYTHONHOME PATH="$clean_path" bash -c "$quick_line") >"$work/readme_run.log" 2>&1 || {
  tail -n 40 "$work/readme_run.log"; say "the README's first command failed"; exit 1
}
tail -n 12 "$work/readme_run.log"

"$work/.venv/bin/python" - "$work" <<'EOF'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
config = (work / ".venv" / "pyvenv.cfg").read_text()
assert "include-system-site-packages = false" in config, "the README's venv sees the system's packages"
out = work / "invariant-inr-demo"
expected = ("model.pt", "losses.png", "reconstructions.png", "rotation.png", "clusters.png", "confusion.png", "scores.json")
missing = [name for name in expected if not (out / name).is_file() or (out / name).stat().st_size == 0]
assert not missing, f"the demo did not write {missing} (it wrote {sorted(p.name for p in out.iterdir())})"
scores = json.loads((out / "scores.json").read_text())
assert not scores["skipped"], f"the demo skipped parts with the README's install: {scores['skipped']}"
assert {"clustering", "pose_recovery", "invariance", "training"} <= set(scores)
for name in expected:
    if name.endswith(".png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
from invariant_inr import IRLINR
IRLINR.load(out / "model.pt")
print("[readme-first-line] the demo wrote every file; nothing was skipped")
EOF
