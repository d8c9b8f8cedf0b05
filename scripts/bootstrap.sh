#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) so the two quick-start commands work on a fresh
# machine. Re-installs only when pyproject.toml changed since the last successful install. pip runs with -qq:
# errors only (its build-backend notices and a machine's find-links warnings are not a newcomer's business).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${NLMG_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "Error: nlmg-media needs Python 3.11 or newer (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "nlmg-media: creating virtual environment in $venv" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.nlmg-installed"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "nlmg-media: installing dependencies (first run takes a minute or two)" >&2
  "$venv/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install -qq --disable-pip-version-check -e "$root[dev]" >&2
  echo "$want" > "$stamp"
fi
