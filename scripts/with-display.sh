#!/usr/bin/env bash
# Runs a command with a private X display (Xvfb), for the desktop tests and
# screenshots on machines without a screen. The display is torn down when
# the command ends, however it ends.
#
#   scripts/with-display.sh cargo test -p bench-e2e -- --ignored
set -euo pipefail

# On a fresh machine the wrappers run before anything is installed.
if ! command -v Xvfb >/dev/null 2>&1; then
  echo "$0: Xvfb is missing; running scripts/bootstrap.sh" >&2
  bash "$(dirname "$0")/bootstrap.sh"
  command -v Xvfb >/dev/null 2>&1 || { echo "$0: Xvfb is still missing; install the xvfb package" >&2; exit 1; }
fi

# First display number with no X server and no lock file.
display=99
while [ -e "/tmp/.X${display}-lock" ] || [ -e "/tmp/.X11-unix/X${display}" ]; do
  display=$((display + 1))
done

Xvfb ":$display" -screen 0 1200x800x24 -nolisten tcp -nolisten unix-abstract >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  [ -e "/tmp/.X11-unix/X${display}" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || { echo "Xvfb failed to start on :$display" >&2; exit 1; }
  sleep 0.1
done

export DISPLAY=":$display"
# WebKitGTK under Xvfb: no GPU, and no sandbox helper processes that need
# user namespaces CI machines may not grant.
export WEBKIT_DISABLE_COMPOSITING_MODE=1
export LIBGL_ALWAYS_SOFTWARE=1
"$@"
