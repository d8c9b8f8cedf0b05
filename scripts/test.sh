#!/usr/bin/env bash
# Quick start 2: bootstrap the environment, then run the whole test suite (arguments go to pytest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
exec "${NLMG_VENV:-$root/.venv}/bin/python" -m pytest "$@"
