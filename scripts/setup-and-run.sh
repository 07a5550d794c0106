#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running viewer: installs the dependencies with
# apt-get, builds, and opens the bundled sample chest radiograph. Without a display it renders the
# sample to a PNG instead and says where.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
sample=resources/samples/sample_chest_pa.png
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec build/app/gui/cxr-assistant "$sample" "$@"
else
  out=${CXR_RENDER_OUT:-$PWD/build/sample_render.png}
  QT_QPA_PLATFORM=offscreen build/app/gui/cxr-assistant --render "$sample" "$out"
  echo "No display found: rendered the sample radiograph to $out"
fi
