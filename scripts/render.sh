#!/usr/bin/env bash
# Quick start 1: bootstrap the environment, then `nlmg-media render` (arguments are passed through).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
exec "${NLMG_VENV:-$root/.venv}/bin/nlmg-media" render "$@"
