# Sourced by install.sh, run.sh, build.sh and .ci/run: where the per-user install lives
# and whether it is current. Kept to plain bash and coreutils, so that run.sh can decide
# in a few milliseconds that there is nothing to install.
#
# The install is a virtual environment of its own, by default
# ${XDG_DATA_HOME:-~/.local/share}/photo-uploader-venv, beside the app's data folder
# (~/.local/share/photo-uploader) and never inside it: deleting either leaves the other
# working (a deleted venv is made again at the next run.sh). PHOTO_UPLOADER_VENV moves it.
#
# The venv holds the project installed editable from this clone; its stamp file records
# what it was installed from. It is current while pyproject.toml is unchanged (its
# SHA-256), the clone is the same and the venv's python still runs.

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${PHOTO_UPLOADER_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/photo-uploader-venv}"
stamp_file="$venv_dir/photo-uploader-install.stamp"

# The stamp of an install of this clone as it is now, with the extras given ("" or "dev").
expected_stamp() {
    local pyproject_hash
    pyproject_hash="$(sha256sum "$repo_dir/pyproject.toml")"
    printf 'pyproject %s\nsource %s\nextras %s\n' "${pyproject_hash%% *}" "$repo_dir" "$1"
}

# True when the venv holds this clone as it is now, with the extras asked for at least
# (an install with "dev" also serves the app alone).
install_is_current() {
    local wanted="$1"
    [ -x "$venv_dir/bin/python" ] && [ -f "$stamp_file" ] || return 1
    local recorded
    recorded="$(<"$stamp_file")"
    [ "$recorded" = "$(expected_stamp "$wanted")" ] && return 0
    [ -z "$wanted" ] && [ "$recorded" = "$(expected_stamp dev)" ]
}
