#!/usr/bin/env bash
# Installs every build, test and run-time dependency of CXR Assistant on Debian 12 (bookworm).
# Everything comes from Debian's own archive; nothing is downloaded from anywhere else.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # Qt 6 (Widgets, Gui, PrintSupport, Sql + SQLite driver, Test, Svg)
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libqt6sql6-sqlite libqt6svg6 qt6-qpa-plugins
  qt6-image-formats-plugins  # TIFF (and WebP) reading for the viewer
  libgl-dev
  # DICOM: DCMTK, plus OpenJPEG for JPEG 2000 (Debian's DCMTK has no J2K codec)
  libdcmtk-dev libopenjp2-7-dev zlib1g-dev
  # The model engine: libtorch (CPU), sentencepiece, and a threaded BLAS for fp32 matmul
  libtorch-dev libsentencepiece-dev libopenblas0-pthread
  # Sleef's vector exp, called by the fused softmax as libtorch calls it
  libsleef-dev
  # JSON in the engine (config.json, safetensors headers) and in the engine tests: header-only
  nlohmann-json3-dev
  # the engine tests read their golden PNG crops with libpng (a model-only tree has no Qt)
  libpng-dev
  # dataset manifests and label files (RFC 4180 CSV) for cxr-batch
  libcsv-dev
  # cxr-batch on a cluster: the slurm_job_array test starts a one-node Slurm (controller, node daemon,
  # munge authentication) on localhost; jq compares its results
  slurm-wlm munge jq
  # Headless testing and looking at results: a virtual X server, PDF to text/PNG
  xvfb xauth poppler-utils
  # scripts/test-package.sh: a bare Debian 12 root to install the .deb into
  debootstrap
  # test only: cxr-batch eval's figures are checked against scikit-learn (tests/app/batch_eval_check.py)
  python3-sklearn
  # Fonts so that rendered text and PDFs have glyphs on a bare machine (WenQuanYi: CJK text the
  # model may write, e.g. in exported PDFs; DejaVu has none)
  fonts-dejavu-core fonts-wqy-microhei
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
