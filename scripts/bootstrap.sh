#!/usr/bin/env bash
# Installs what building and testing Switchboard needs, skipping what is already there.
# Versions are the ones verified to work together (see README "Toolchain").
#   scripts/bootstrap.sh            console build tools (wasm target, trunk, wasm-bindgen, npm packages)
#   scripts/bootstrap.sh --browser  the same, plus Debian's Chromium for the end-to-end tests,
#                                   OpenLDAP (slapd, ldap-utils) for the directory sync tests,
#                                   Prosody and python3-slixmpp for the XMPP federation tests,
#                                   PostgreSQL and nats-server for the several-node tests
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
CARGO_DENY_VERSION=0.20.2
# Must equal the `wasm-bindgen = "=..."` pin in Cargo.toml: library and CLI must match.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  step "installing trunk $TRUNK_VERSION (first time only: about 7 minutes on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# `make lint` checks licences, bans and sources of every dependency with it (deny.toml).
if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  step "installing cargo-deny $CARGO_DENY_VERSION (a few minutes, once)"
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (first time only: about 2 minutes)"
  # Not --locked: one of its locked dependency versions is no longer in the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/playwright ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (Playwright, binaryen's wasm-opt)"
  # Playwright cannot download its browsers here; the tests use Debian's Chromium.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

# Installs Debian packages (as root, or through sudo).
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_install() {
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  step "installing Chromium from Debian (apt-get)"
  apt_install chromium
fi

if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/sbin/slapd ] || [ ! -x /usr/bin/ldapadd ]; }; then
  step "installing OpenLDAP (slapd, ldap-utils) from Debian for the directory sync tests (apt-get)"
  apt_install slapd ldap-utils
fi
# Installs Debian packages whose system services must not start: the tests start their own
# servers on 127.0.0.1 in temp dirs.
apt_install_without_services() {
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    apt_install "$@"
    $sudo rm -f "$policy"
  else
    apt_install "$@"
  fi
}
if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/bin/prosody ] \
  || [ ! -f /usr/lib/python3/dist-packages/slixmpp/__init__.py ]; }; then
  step "installing Prosody and python3-slixmpp from Debian for the XMPP federation tests (apt-get)"
  apt_install_without_services prosody python3-slixmpp
fi
if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/lib/postgresql/15/bin/postgres ] \
  || [ ! -x /usr/sbin/nats-server ]; }; then
  step "installing PostgreSQL and nats-server from Debian for the several-node tests (apt-get)"
  apt_install_without_services postgresql nats-server
fi
step "tools ready"
