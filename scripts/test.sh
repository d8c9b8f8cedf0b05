#!/usr/bin/env bash
# Quick start 2: bootstrap the environment, then run the whole test suite (arguments go to pytest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
# The site's browser tests drive Debian's chromium and audit pages with axe-core (npm): install what is missing.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null 2>&1; then
  echo "nlmg-media: installing chromium (Debian) for the browser tests" >&2
  as_root apt-get update -qq >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
# The catalogue tests start their own Redis (Debian's redis-server) on a loopback port: install it when missing,
# and stop the system service the package may start (the tests need only the binary).
if ! command -v redis-server >/dev/null 2>&1; then
  echo "nlmg-media: installing redis-server (Debian) for the catalogue tests" >&2
  as_root apt-get update -qq >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  (as_root service redis-server stop || true) >/dev/null 2>&1
fi
if [ ! -f "$root/.cache/npm/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "nlmg-media: installing npm (Debian) for axe-core" >&2
    as_root apt-get update -qq >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
  fi
  echo "nlmg-media: installing axe-core into .cache/npm" >&2
  npm install --prefix "$root/.cache/npm" --no-audit --no-fund --silent axe-core@4 >&2
fi
exec "${NLMG_VENV:-$root/.venv}/bin/python" -m pytest "$@"
