#!/usr/bin/env bash
# Renders the app icon's PNG sizes from its SVG, after the SVG changed:
#   bash packaging/render_icons.sh
# Needs rsvg-convert (Debian: librsvg2-bin). The PNGs are committed, so neither the app
# nor its install needs the tool.
set -euo pipefail

hicolor="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/resources/icons/hicolor"
svg="$hicolor/scalable/apps/photo-uploader.svg"
SIZES=(16 32 48 64 128 256 512)  # app.ui.app_icon.ICON_SIZES

if ! command -v rsvg-convert >/dev/null 2>&1; then
    echo "render_icons.sh needs rsvg-convert: sudo apt-get install librsvg2-bin" >&2
    exit 3
fi
for size in "${SIZES[@]}"; do
    mkdir -p "$hicolor/${size}x${size}/apps"
    rsvg-convert --width "$size" --height "$size" "$svg" \
        --output "$hicolor/${size}x${size}/apps/photo-uploader.png"
done
echo "rendered ${SIZES[*]} px into $hicolor"
