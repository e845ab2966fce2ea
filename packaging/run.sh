#!/usr/bin/env bash
# The README's run command. The first time, and after pyproject.toml changed, it installs
# Photo Uploader for this user (packaging/install.sh); every other time it just starts
# it, touching neither apt nor pip.
#   bash packaging/run.sh                    the window
#   bash packaging/run.sh PHOTOS_OR_FOLDERS  the window, with those uploading
#   bash packaging/run.sh upload PHOTO...    any command of `python -m app` (--version, ...)
# Paths are taken as given, relative to where you run this.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"

if ! install_is_current ""; then
    log="${XDG_CACHE_HOME:-$HOME/.cache}/photo-uploader-install.log"
    mkdir -p "$(dirname "$log")"
    echo "Installing Photo Uploader into $venv_dir (once; a few minutes; log: $log)…" >&2
    status=0
    bash "$here/install.sh" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 3 ]; then
        tail -n 1 "$log" >&2  # one sentence: what is missing and how to get it
        exit 3
    elif [ "$status" -ne 0 ]; then
        echo "Installing failed; the last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "Installed; starting." >&2
fi
exec "$venv_dir/bin/photo-uploader" "$@"
