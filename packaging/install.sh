#!/usr/bin/env bash
# Installs Photo Uploader from this clone for the user who runs it, in a virtual
# environment of its own (where: packaging/common.sh). Used by the README's two commands
# (packaging/run.sh, the first time; .ci/run with --dev).
#   bash packaging/install.sh            the app
#   bash packaging/install.sh --dev      the app plus test, benchmark and bundle tools
#   bash packaging/install.sh --desktop  the app, then its menu entry and icon for this
#                                        user (the desktop's menu and "Open with")
# System libraries come through apt only when one is missing. Without root (or sudo
# that needs no password) it names what is missing and how to install it, and stops
# with exit status 3.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

extras=""
desktop=false
for arg in "$@"; do
    case "$arg" in
        --dev) extras="dev" ;;
        --desktop) desktop=true ;;
        *) echo "install.sh: unknown option $arg (use --dev, --desktop)" >&2; exit 2 ;;
    esac
done

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
# For the tests: the validators of resources/ (tests/packaging), binutils, which
# PyInstaller uses to read the libraries it bundles, and a private D-Bus session with a
# real notification daemon on a virtual screen (tests/ui/test_notify_smoke.py).
DEV_PACKAGES=(desktop-file-utils appstream binutils dbus-daemon dunst xvfb xauth)
# Optional: the libvips command line, an anchor for the thumbnail benchmark.
OPTIONAL_PACKAGES=(libvips-tools)

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export PIP_PROGRESS_BAR=off

# ------------------------------------------------------------------ Python for the venv

# The first of $PHOTO_UPLOADER_PYTHON, python3, python that is Python 3.11 or newer.
find_python() {
    local candidate
    for candidate in ${PHOTO_UPLOADER_PYTHON:-} python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# ------------------------------------------------------------------ system packages

# Every installed package, and every name an installed package provides (Ubuntu's
# libglib2.0-0t64 provides libglib2.0-0), one a line.
installed_package_names() {
    dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
        awk -F'|' '$1 ~ /^ii/ {
            print $2
            n = split($3, provided, ",")
            for (i = 1; i <= n; i++) {
                name = provided[i]
                sub(/^ +/, "", name); sub(/ .*/, "", name); sub(/:.*/, "", name)
                if (name != "") print name
            }
        }' | sort -u
}

# The packages of $@ that are not installed.
missing_packages() {
    local installed
    installed="$(installed_package_names)"
    local package
    for package in "$@"; do
        grep -qxF "$package" <<<"$installed" || echo "$package"
    done
}

# Runs apt-get as root: directly, through passwordless sudo, or not at all (status 1).
as_root_apt_get() {
    if [ "$(id -u)" -eq 0 ]; then
        apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
    else
        return 1
    fi
}

can_run_apt_as_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

apt_install() {
    echo "== apt-get install $*"
    local attempt
    for attempt in 1 2 3; do
        if as_root_apt_get update; then
            break
        fi
        if [ "$attempt" -eq 3 ]; then
            echo "apt-get update failed three times; see the lines above" >&2
            exit 1
        fi
        echo "apt-get update failed; trying again ($attempt)" >&2
        sleep 5
    done
    as_root_apt_get install --no-install-recommends --no-upgrade "$@"
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "warning: not a Debian-like system; make sure Qt 6's system libraries are installed" >&2
        return 0
    fi
    local wanted=("${QT_PACKAGES[@]}" "${DISPLAY_PACKAGES[@]}")
    local python
    if ! python="$(find_python)"; then
        wanted+=(python3 python3-venv)
    elif ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        wanted+=(python3-venv)  # Debian keeps ensurepip, which venv needs, in python3-venv
    fi
    if [ "$extras" = "dev" ]; then
        wanted+=("${DEV_PACKAGES[@]}")
    fi
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if [ "${#missing[@]}" -gt 0 ]; then
        if ! can_run_apt_as_root; then
            echo "Photo Uploader needs these system packages, which are missing:" \
                "${missing[*]}; install them with" \
                "\"sudo apt-get install ${missing[*]}\" (or ask your administrator)," \
                "then run this again." >&2
            exit 3
        fi
        apt_install "${missing[@]}"
    fi
    if [ "$extras" = "dev" ]; then
        mapfile -t missing < <(missing_packages "${OPTIONAL_PACKAGES[@]}")
        if [ "${#missing[@]}" -gt 0 ] && can_run_apt_as_root; then
            if ! as_root_apt_get install --no-install-recommends --no-upgrade "${missing[@]}"; then
                echo "warning: ${missing[*]} could not be installed; benchmarks skip it" >&2
            fi
        fi
    fi
}

# ------------------------------------------------------------------ the venv

install_python_packages() {
    local python
    python="$(find_python)" || {
        echo "Photo Uploader needs Python 3.11 or newer; install python3 and run this again." >&2
        exit 3
    }
    if ! "$venv_dir/bin/python" -c '' 2>/dev/null; then
        # Missing, or left by a Python that is gone: made anew, if it is a venv.
        if [ -e "$venv_dir" ] && [ ! -f "$venv_dir/pyvenv.cfg" ] &&
            [ -n "$(ls -A "$venv_dir" 2>/dev/null)" ]; then
            echo "install.sh: $venv_dir is not a virtual environment and not empty;" \
                "point PHOTO_UPLOADER_VENV elsewhere" >&2
            exit 2
        fi
        echo "== $python -m venv $venv_dir"
        rm -rf "$venv_dir"
        mkdir -p "$(dirname "$venv_dir")"
        "$python" -m venv "$venv_dir"
    fi
    rm -f "$stamp_file"
    local target="$repo_dir"
    [ -n "$extras" ] && target="$repo_dir[$extras]"
    echo "== pip install -e $target"
    "$venv_dir/bin/python" --version
    "$venv_dir/bin/python" -m pip install -e "$target"
    # Byte-compile the clone's code now, so that the first start is as quick as the
    # next ones (and stays so where PYTHONDONTWRITEBYTECODE is set).
    "$venv_dir/bin/python" -m compileall -q "$repo_dir/app"
    expected_stamp "$extras" >"$stamp_file"
}

# ------------------------------------------------------------------ the desktop entry

# A path as a .desktop Exec field holds it: bare, or in double quotes if it has spaces.
desktop_exec_path() {
    local path="$1"
    if [[ "$path" =~ [\"\`\$\\%] ]]; then
        echo "install.sh: $path has a character a .desktop file cannot hold;" \
            "move the install with PHOTO_UPLOADER_VENV" >&2
        exit 2
    fi
    if [[ "$path" =~ [[:space:]\'\>\<\~\|\&\;\*\?\#\(\)] ]]; then
        printf '"%s"' "$path"
    else
        printf '%s' "$path"
    fi
}

install_desktop_entry() {
    local data="${XDG_DATA_HOME:-$HOME/.local/share}"
    local resources="$repo_dir/resources"
    local applications="$data/applications"
    local icons="$data/icons/hicolor"
    local launcher="$venv_dir/bin/photo-uploader-gui"
    echo "== desktop entry and icons into $data"
    mkdir -p "$applications" "$data/metainfo"
    local icon
    for icon in "$resources"/icons/hicolor/*/apps/photo-uploader.*; do
        install -D -m 644 "$icon" "$icons/${icon#"$resources"/icons/hicolor/}"
    done
    # The entry as resources/ has it, run from this install: TryExec hides it from the
    # menu if the install goes away.
    local exec_path line entry="$applications/photo-uploader.desktop"
    exec_path="$(desktop_exec_path "$launcher")"
    while IFS= read -r line; do
        case "$line" in
            Exec=photo-uploader-gui*)
                printf 'TryExec=%s\n' "$launcher"
                printf 'Exec=%s%s\n' "$exec_path" "${line#Exec=photo-uploader-gui}"
                ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$resources/photo-uploader.desktop" >"$entry.tmp"
    mv "$entry.tmp" "$entry"
    install -m 644 "$resources"/*.metainfo.xml "$data/metainfo/"
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$applications" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        # -t: a user's hicolor folder has no index.theme of its own
        gtk-update-icon-cache -q -t -f "$icons" || true
    fi
    echo "Photo Uploader is in the desktop's menu now: $applications/photo-uploader.desktop"
}

# A current install passed the system check when it was made; it needs nothing more.
if install_is_current "$extras"; then
    echo "== $venv_dir holds $repo_dir as it is now${extras:+, with [$extras]}"
else
    install_system_packages
    install_python_packages
fi
if [ "$desktop" = true ]; then
    install_desktop_entry
fi
