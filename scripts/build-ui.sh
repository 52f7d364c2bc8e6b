#!/usr/bin/env bash
# Builds the Yew UI into ui/dist, which the desktop app embeds at compile
# time. Run it before `cargo build -p doctors-bench` (Tauri's
# beforeBuildCommand runs it for `cargo tauri build`). Works from any folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/doctors-bench/target}"
tools_bin="${BENCH_CACHE:-/var/cache/doctors-bench}/tools/bin"
if ! command -v wasm-bindgen >/dev/null 2>&1; then
  export PATH="$tools_bin:$PATH"
fi
if ! command -v wasm-bindgen >/dev/null 2>&1; then
  echo "error: wasm-bindgen is not installed; run scripts/bootstrap.sh first." >&2
  exit 1
fi

cd "$root"
cargo build -p bench-ui --target wasm32-unknown-unknown --release --locked
rm -rf ui/dist
mkdir -p ui/dist
wasm-bindgen --target web --no-typescript --out-dir ui/dist \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/bench_ui.wasm"
cp ui/index.html ui/boot.js ui/style.css ui/dist/
echo "UI built into $root/ui/dist" >&2
