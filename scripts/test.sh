#!/usr/bin/env bash
# Runs the whole Doctor's Bench test suite, as CI does:
#   lints, unit tests, integration tests against the real TLS server,
#   keyring tests against the real Secret Service, and the desktop app driven
#   over WebDriver under Xvfb.
#
# Installs what it needs first (scripts/bootstrap.sh). Build output goes to
# /var/cache/doctors-bench/target unless CARGO_TARGET_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

step() { printf '\n==== %s ====\n' "$*"; }

step "UI (wasm32): built once for this run"
bash scripts/build-ui.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --exclude bench-ui --all-targets --locked -- -D warnings
cargo clippy -p bench-ui --target wasm32-unknown-unknown --locked -- -D warnings

step "binaries the cross-process tests start"
cargo build --workspace --exclude bench-ui --bins --locked

step "unit and integration tests"
cargo test --workspace --exclude bench-ui --locked
# The UI's reducer and helpers are plain Rust: their tests run natively.
cargo test -p bench-ui --locked

step "tests that need the real Secret Service and a display"
# These are #[ignore]d in a plain `cargo test` because they need
# gnome-keyring on a private D-Bus session and an X display; here they get both.
scripts/with-keyring.sh scripts/with-display.sh \
  cargo test --workspace --exclude bench-ui --locked -- --ignored
