#!/usr/bin/env bash
# Installs everything Doctor's Bench needs to build, run and test on a fresh
# Debian 12 / Ubuntu machine, and nothing twice: each step checks first.
#
# Sourced by scripts/run-app.sh and scripts/test.sh (and so by .ci/run).
# After it, PATH holds the project's tools and CARGO_TARGET_DIR is set.
#
# Build output and installed tools live under /var/cache/doctors-bench, outside
# the clone, so repeated runs on one machine are incremental.

set -euo pipefail

BENCH_CACHE="${BENCH_CACHE:-/var/cache/doctors-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$BENCH_CACHE/target}"
BENCH_TOOLS="$BENCH_CACHE/tools"
# CARGO_HOME first: scripts/with-keyring.sh swaps HOME for a throwaway one
# and keeps CARGO_HOME pointing at the real toolchain.
export PATH="$BENCH_TOOLS/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The tool versions the build depends on. wasm-bindgen's CLI must match the
# library version pinned in ui/Cargo.toml exactly.
WASM_BINDGEN_VERSION=0.2.130
TAURI_DRIVER_VERSION="^2"

APT_PACKAGES=(
  build-essential pkg-config libssl-dev file curl ca-certificates openssl
  # Tauri 2 on Linux: WebKitGTK and friends.
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  librsvg2-dev
  # Desktop tests: a display, screenshots, WebDriver for WebKit.
  xvfb xauth imagemagick webkit2gtk-driver
  # The OS keyring: Secret Service from gnome-keyring over D-Bus.
  dbus dbus-daemon gnome-keyring libdbus-1-dev libsecret-tools
  # An independent TOTP generator for the tests.
  oathtool
  # Network namespaces and link shaping for sync tests.
  iproute2
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

log() { printf '[bootstrap] %s\n' "$*" >&2; }

install_system_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${#missing[@]} Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  fi
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
}

# cargo install into our own root, so the tools survive between CI runs and
# never mix with a developer's own ~/.cargo/bin.
install_cargo_tool() {
  local crate=$1 version=$2 binary=$3 check=$4
  shift 4
  if [ -x "$BENCH_TOOLS/bin/$binary" ]; then
    if [ -z "$check" ] || "$BENCH_TOOLS/bin/$binary" --version 2>/dev/null | grep -qF "$check"; then
      return
    fi
  fi
  log "installing $crate $version (a few minutes, once per machine)"
  CARGO_TARGET_DIR="$BENCH_CACHE/tool-build" \
    cargo install "$crate" --version "$version" --root "$BENCH_TOOLS" "$@" >&2
}

install_system_packages
install_rust
mkdir -p "$BENCH_TOOLS"
install_cargo_tool wasm-bindgen-cli "=$WASM_BINDGEN_VERSION" wasm-bindgen "$WASM_BINDGEN_VERSION"
# tauri-driver prints no version; its presence is the check.
install_cargo_tool tauri-driver "$TAURI_DRIVER_VERSION" tauri-driver "" --locked
