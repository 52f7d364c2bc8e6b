#!/bin/sh
# Runs a command with a private, unlocked Secret Service (GNOME Keyring) on a
# private D-Bus session, so tests can use the real OS keyring headless
# without touching the user's own keyring.
#
#   scripts/with-keyring.sh cargo test -p bench-client -- --ignored keyring
#
# The keyring lives in a fresh temporary HOME/XDG_DATA_HOME, unlocked with a
# random password, and is deleted afterwards.
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi
# On a fresh machine the wrappers run before anything is installed: install
# first (the same script every entry point uses), then check.
if ! command -v dbus-run-session >/dev/null 2>&1 || ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
    echo "$0: the D-Bus session tools or gnome-keyring are missing; running scripts/bootstrap.sh" >&2
    bash "$(dirname "$0")/bootstrap.sh"
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool is missing; install dbus and gnome-keyring (scripts/bootstrap.sh)." >&2
        exit 1
    fi
done

keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/bench-keyring.XXXXXX")
trap 'rm -rf "$keyring_home"' EXIT INT TERM

# Cargo and rustup live under the real HOME; keep them findable.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export HOME="$keyring_home"
export XDG_DATA_HOME="$keyring_home/data"
# Everything else a program might write under the home goes there too, so a
# user's own XDG settings never catch the throwaway clinic's files.
export XDG_CONFIG_HOME="$keyring_home/config"
export XDG_CACHE_HOME="$keyring_home/cache"
export XDG_STATE_HOME="$keyring_home/state"
export XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export BENCH_KEYRING_PASSWORD
BENCH_KEYRING_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')

dbus-run-session -- sh -c '
    printf %s "$BENCH_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    unset BENCH_KEYRING_PASSWORD
    exec "$@"
' with-keyring "$@"
