#!/usr/bin/env bash
# Installs what Photo Uploader needs on Debian/Ubuntu: Qt's system libraries, then the
# package itself. Used by the README's two commands (packaging/run.sh and .ci/run).
#   bash packaging/install.sh          the app
#   bash packaging/install.sh --dev    the app plus test and benchmark tools
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras=""
if [ "${1:-}" = "--dev" ]; then
    extras="[dev]"
fi

# What PySide6 (Qt 6) needs to run offscreen, found with ldd on libQt6Gui.so.6,
# libQt6Widgets.so.6 and plugins/platforms/libqoffscreen.so, plus a font so text renders.
QT_PACKAGES=(
    libegl1 libgl1 libglx0 libopengl0
    libx11-6 libxcb1 libxkbcommon0
    libfontconfig1 libfreetype6 fonts-dejavu-core
    libdbus-1-3 libglib2.0-0 libpng16-16 libbrotli1
)
# What Qt's xcb platform plugin needs to open a real window on an X11 or XWayland desktop.
DISPLAY_PACKAGES=(
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
    libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0
    libxcb-xfixes0 libxcb-shm0 libxcb-sync1 libxcb-render0 libx11-xcb1
)
# Optional: the libvips command line, an anchor for the thumbnail benchmark.
OPTIONAL_PACKAGES=(libvips-tools)

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export PIP_PROGRESS_BAR=off
# Debian's own python3 refuses pip installs outside a venv (PEP 668).
export PIP_BREAK_SYSTEM_PACKAGES=1

if command -v apt-get >/dev/null 2>&1; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    fi
    APT=("${SUDO[@]}" apt-get -y -q -o DPkg::Lock::Timeout=300)

    echo "== apt-get update"
    for attempt in 1 2 3; do
        if "${APT[@]}" update; then
            break
        fi
        if [ "$attempt" -eq 3 ]; then
            echo "apt-get update failed three times" >&2
            exit 1
        fi
        echo "apt-get update failed; trying again ($attempt)" >&2
        sleep 5
    done

    packages=("${QT_PACKAGES[@]}" "${DISPLAY_PACKAGES[@]}")
    if ! command -v python >/dev/null 2>&1; then
        packages+=(python-is-python3)
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        packages+=(python3-pip)
    fi
    echo "== apt-get install ${packages[*]}"
    "${APT[@]}" install --no-install-recommends --no-upgrade "${packages[@]}"

    if [ -n "$extras" ]; then
        echo "== apt-get install (optional) ${OPTIONAL_PACKAGES[*]}"
        if ! "${APT[@]}" install --no-install-recommends --no-upgrade "${OPTIONAL_PACKAGES[@]}"; then
            echo "warning: ${OPTIONAL_PACKAGES[*]} could not be installed; benchmarks skip it" >&2
        fi
    fi
else
    echo "warning: no apt-get here; install Qt 6's system libraries yourself" >&2
fi

echo "== pip install -e .${extras}"
python --version
python -m pip install -e ".${extras}"
