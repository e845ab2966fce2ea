#!/usr/bin/env bash
# Builds the one-folder PyInstaller bundle: dist/photo-uploader/, whose program
# dist/photo-uploader/photo-uploader is the app (the window, `upload`, `--version`, ...)
# with its Python, Qt, libvips and rclone inside.
#   bash packaging/build.sh [DIST_DIR]   (dist/ by default; work files go beside it)
# Python: $PYTHON if set (the tests use their own), else the per-user dev install
# (made or brought up to date first).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dist="$(realpath -m "${1:-$repo_dir/dist}")"  # before cd: relative to the caller
work="$(dirname "$dist")/build/pyinstaller"
cd "$repo_dir"

python="${PYTHON:-}"
if [ -z "$python" ]; then
    if ! install_is_current dev; then
        bash packaging/install.sh --dev
    fi
    python="$venv_dir/bin/python"
fi

echo "== PyInstaller ($python) into $dist"
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work" packaging/photo-uploader.spec
echo "built $dist/photo-uploader/photo-uploader"
