#!/usr/bin/env bash
# Builds and runs the Doctor's Bench desktop app.
#
# With no server configured (no DOCTORS_BENCH_SERVER_URL and no
# ~/.config/doctors-bench/client.json), it also sets up and starts a local
# demo API on embedded SQLite, with a demo clinic whose sign-in details are
# printed the first time. The demo API stops when the app closes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

log() { printf '[run-app] %s\n' "$*" >&2; }

# The app needs a desktop session: a display, and the desktop keyring (where
# it keeps this device's secret). Say so before building anything.
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  log "no display found: run this from a desktop session."
  log "headless, with a throwaway keyring and demo clinic (deleted on exit):"
  log "  scripts/with-display.sh scripts/with-keyring.sh ./scripts/run-app.sh"
  exit 1
fi
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  log "no D-Bus session: the app keeps its device key in the desktop keyring (Secret Service)."
  log "run it from a desktop session, or under scripts/with-keyring.sh for a throwaway keyring"
  exit 1
fi

bash scripts/build-ui.sh
cargo build -p bench-server -p doctors-bench --locked
bin="$CARGO_TARGET_DIR/debug"

config_home="${XDG_CONFIG_HOME:-$HOME/.config}"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    log "stopping the demo API"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ -z "${DOCTORS_BENCH_SERVER_URL:-}" ] && [ ! -f "$config_home/doctors-bench/client.json" ]; then
  data_dir="${BENCH_SERVER_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/doctors-bench/server}"
  export BENCH_SERVER_DATA_DIR="$data_dir"
  if [ ! -f "$data_dir/client.json" ]; then
    log "first run: creating a demo clinic in $data_dir"
    "$bin/bench-server" init --demo --data-dir "$data_dir"
  fi
  server_url=$(sed -n 's/.*"server_url": *"\([^"]*\)".*/\1/p' "$data_dir/client.json")
  ca_cert=$(sed -n 's/.*"ca_cert_path": *"\([^"]*\)".*/\1/p' "$data_dir/client.json")
  if curl -fsS --tlsv1.3 --cacert "$ca_cert" "$server_url/v1/health" >/dev/null 2>&1; then
    log "a demo API is already running at $server_url"
  else
    log "starting the demo API at $server_url (log: $data_dir/server.log)"
    "$bin/bench-server" serve --data-dir "$data_dir" >>"$data_dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
      curl -fsS --tlsv1.3 --cacert "$ca_cert" "$server_url/v1/health" >/dev/null 2>&1 && break
      if ! kill -0 "$server_pid" 2>/dev/null; then
        # Show the reason here: under with-keyring.sh the data folder (and
        # its log) is deleted as soon as this script exits.
        log "the demo API failed to start; the end of $data_dir/server.log:"
        tail -n 5 "$data_dir/server.log" >&2 || true
        server_pid=""
        exit 1
      fi
      sleep 0.2
    done
  fi
  log "the demo sign-in details were printed when the clinic was created; to set a new"
  log "password: $bin/bench-server user passwd --data-dir $data_dir --username demo --password-stdin"
fi


"$bin/doctors-bench"
