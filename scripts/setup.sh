#!/usr/bin/env bash
# Install what Asterism needs on a fresh Debian machine with Node 20 + npm, as root. Idempotent and quiet
# when everything is already there: it only installs what is missing.
#   - Bun, pinned, from npm (the version in .bun-version)
#   - Debian packages (scripts/apt-packages.txt) through apt, only the missing ones
#   - node_modules from the committed lockfile (frozen)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

bun_version="$(cat .bun-version)"
if [ "$(bun --version 2>/dev/null || true)" != "$bun_version" ]; then
  log "installing bun $bun_version through npm"
  npm install -g --silent --no-fund --no-audit --allow-scripts=bun "bun@$bun_version" >/dev/null 2>&1 \
    || npm install -g --silent --no-fund --no-audit "bun@$bun_version" >/dev/null
  hash -r
  [ "$(bun --version)" = "$bun_version" ] || { log "bun $bun_version did not install"; exit 1; }
fi

missing=()
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done < scripts/apt-packages.txt
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pkcs11js is a native addon: node-gyp must build it against the Node headers Debian's nodejs ships,
# not download them (there is no network for that).
if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
if [ ! -d node_modules ] || [ bun.lock -nt node_modules/.asterism-installed ]; then
  log "installing node modules (frozen lockfile)"
  bun install --frozen-lockfile --silent >/dev/null
  touch node_modules/.asterism-installed
fi
