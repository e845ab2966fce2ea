#!/usr/bin/env bash
# The README's run command: install what is needed, then open the window.
#   bash packaging/run.sh [PHOTOS_OR_FOLDERS...]
# Paths are taken as given, relative to where you run this.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="${TMPDIR:-/tmp}/photo-uploader-install.log"
echo "Installing Photo Uploader (log: $log)…"
bash "$here/install.sh" >"$log" 2>&1 || {
    echo "Installing failed; the last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
exec python -m app "$@"
