#!/usr/bin/env bash
# Builds Asterisk (the PBX the call-control tests drive) once, into a cache outside the clone,
# and prints where it is; later runs reuse the build at once. Asterisk is not packaged in this
# Debian: its 22 LTS source is vendored beside the project (../shared/vendor/, unchanged
# upstream tag 22.10.1). The build has ARI, Stasis, bridges, Local channels and music on hold;
# no SIP (pjproject is not vendored) and no sound downloads.
#   scripts/asterisk.sh     # prints the install prefix (e.g. ~/.cache/switchboard/asterisk-22.10.1)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=22.10.1
SHA256=248b634d1a6c784aa3266e8cbfb8402780c04a468652992260a4aabab8023ff5
CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
PREFIX="$CACHE/asterisk-$VERSION"

step() { echo "==> $*" >&2; }

if [ -x "$PREFIX/sbin/asterisk" ]; then
  echo "$PREFIX"
  exit 0
fi

# The vendored tarball: ASTERISK_TARBALL, else beside this clone, else beside the main checkout
# (a clone in a temp dir has no ../shared).
tarball="${ASTERISK_TARBALL:-}"
for candidate in "../shared/vendor/asterisk-$VERSION.tar.gz" "/work/shared/vendor/asterisk-$VERSION.tar.gz"; do
  if [ -z "$tarball" ] && [ -f "$candidate" ]; then
    tarball="$(cd "$(dirname "$candidate")" && pwd)/$(basename "$candidate")"
  fi
done
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
  echo "asterisk-$VERSION.tar.gz not found: set ASTERISK_TARBALL to the vendored source" >&2
  exit 1
fi
echo "$SHA256  $tarball" | sha256sum -c --quiet - || {
  echo "$tarball is not the vendored Asterisk $VERSION (sha256 differs)" >&2
  exit 1
}

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if [ ! -f /usr/include/jansson.h ] || [ ! -f /usr/include/histedit.h ]; then
  step "installing Asterisk's build dependencies from Debian (libjansson-dev, libedit-dev)"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q libjansson-dev libedit-dev
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step "building Asterisk $VERSION into $PREFIX (once; about 5 minutes on 2 cores)"
tar xzf "$tarball" -C "$work"
cd "$work/asterisk-$VERSION"
step "configure"
./configure --without-pjproject --with-jansson-bundled=no --prefix="$PREFIX" >"$work/configure.log" 2>&1 ||
  { tail -40 "$work/configure.log" >&2; exit 1; }
make menuselect.makeopts >/dev/null
# `make install` would download these sound packs; the tests bring their own silence.
menuselect/menuselect --disable CORE-SOUNDS-EN-GSM --disable MOH-OPSOUND-WAV \
  --disable EXTRA-SOUNDS-EN-GSM menuselect.makeopts >/dev/null
step "make (progress: one line per directory)"
make -j2 2>&1 | grep --line-buffered -E '^\s*\[(CC|LD)\].*(\.so|asterisk)$|^Building|Error' >&2 ||
  true
[ -x main/asterisk ] || { echo "the Asterisk build failed" >&2; exit 1; }
step "make install"
# Into a staging name first: a build cut short never looks finished.
make install DESTDIR="$work/stage" >"$work/install.log" 2>&1 ||
  { tail -40 "$work/install.log" >&2; exit 1; }
mkdir -p "$CACHE"
rm -rf "$PREFIX.partial"
mv "$work/stage$PREFIX" "$PREFIX.partial"
mv "$PREFIX.partial" "$PREFIX"
step "Asterisk $VERSION ready"
echo "$PREFIX"
