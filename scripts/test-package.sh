#!/usr/bin/env bash
# Proves the .deb on a bare Debian 12: builds the tree and the package (cpack), makes a minimal
# bookworm root with debootstrap (Debian packages only), installs the package there with
# `apt-get install --no-install-recommends ./cxr-assistant_*.deb` (so its Depends alone must be
# enough), and inside that root runs
#   - ldd over every installed binary and the tokenizer shim: no library may be missing;
#   - cxr-assistant --render on the sample radiograph (PNG), a DICOM and a TIFF;
#   - cxr-llava report on the tiny checkpoint (tests/data/model/golden-cxrllava/tiny64);
#   - a scripted GUI report (--run report --quit-when-done) with PDF and text export, offscreen;
#   - the window, offscreen, writing the same report into the history, exporting a PDF, screenshot.
# Outputs are checked (PNG/PDF/SQLite headers, non-empty text; where pdftotext and sqlite3 are
# installed here, the seed in the PDF's text and the messages in the history). Exits non-zero with
# a message on the first failure.
#
# Needs root (debootstrap, chroot, mount) and network access to the Debian mirror. The pristine
# debootstrap root is kept as a tarball in $CXR_PACKAGE_TEST_CACHE (default /var/cache/cxr-debootstrap)
# with the downloaded .debs, so a second run skips debootstrap and most downloads; the script works
# from nothing. CXR_PACKAGE_TEST_REFRESH=1 rebuilds the cached root; CXR_PACKAGE_TEST_KEEP=1 keeps the
# work folder (the root) for a look. Outputs and logs are copied to $CXR_PACKAGE_TEST_OUT (default
# $CXR_BUILD_DIR/package-test). The build folder is $CXR_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build_dir=${CXR_BUILD_DIR:-build}
cache=${CXR_PACKAGE_TEST_CACHE:-/var/cache/cxr-debootstrap}
suite=bookworm
sample=$src/resources/samples/sample_chest_pa.png
dicom=$src/tests/data/dicom/CT_small.dcm
checkpoint=$src/tests/data/model/golden-cxrllava/tiny64/checkpoint
seed=4242

say() { echo "test-package: $*"; }
die() {
  echo "test-package: FAILED: $*" >&2
  exit 1
}
t0=$SECONDS
timings=()
mark() { # mark LABEL START: remembers how long a step took
  timings+=("$(printf '%-34s %4ds' "$1" $((SECONDS - $2)))")
}

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot and mount need it): sudo $0"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (scripts/install-deps.sh installs it)"
command -v cpack >/dev/null || die "cpack is missing: apt-get install cmake"
for f in "$sample" "$dicom" "$checkpoint/config.json"; do [[ -f $f ]] || die "test input $f is missing"; done
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), else Debian's CDN.
mirror_of() { # mirror_of SUITE-PATTERN DEFAULT
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$1" '$1 == "deb" && $0 ~ s { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$1" '
      /^$/ { if (u != "" && su ~ s) { print u; exit } u = ""; su = "" }
      /^URIs:/ { u = $2 } /^Suites:/ { su = $0 }
      END { if (u != "" && su ~ s) print u }' | head -n1)
  fi
  echo "${uri:-$2}"
}
mirror=${CXR_DEBIAN_MIRROR:-$(mirror_of "(^|[ :])${suite}( |$)" http://deb.debian.org/debian)}
security=${CXR_DEBIAN_SECURITY_MIRROR:-$(mirror_of "${suite}-security" http://deb.debian.org/debian-security)}
say "mirror $mirror, security $security, cache $cache"

work=$(mktemp -d /var/tmp/cxr-package-test.XXXXXX)
root=$work/root
mounts=()
results=${CXR_PACKAGE_TEST_OUT:-$build_dir/package-test}
cleanup() {
  local rc=$? m i
  set +e # undo everything that can be undone
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "test-package: cannot unmount $m" >&2
  done
  # Outputs and logs stay in $results (CI can keep them), the root goes.
  mkdir -p "$results"
  rm -rf "${results:?}/out" "$results"/*.deb "$results"/*.log "$results"/*.out "$results"/*.err
  cp -r "$work"/deb/*.deb "$work"/*.log "$work"/*.out "$work"/*.err "$root/tmp/cxr/out" "$results/" 2>/dev/null
  if grep -q " $work/" /proc/mounts; then
    echo "test-package: something is still mounted under $work; not deleting it" >&2
  elif [[ -n ${CXR_PACKAGE_TEST_KEEP:-} ]]; then
    echo "test-package: kept $work"
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the package ------------------------------------------------------------------------------
step=$SECONDS
say "building ($build_dir; nothing to do after scripts/run-tests.sh)"
bash scripts/build.sh >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "the build failed"; }
mark "build" "$step"
step=$SECONDS
cpack --config "$build_dir/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; die "cpack failed"; }
debs=("$work"/deb/cxr-assistant_*_"$arch".deb)
[[ -f ${debs[0]} ]] || die "cpack made no cxr-assistant_*_$arch.deb in $work/deb"
deb=${debs[0]}
mark "cpack" "$step"
say "built $(basename "$deb") ($(du -h "$deb" | cut -f1)); Depends:"
dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ */    /'

# ---- 2. a bare Debian 12 root ----------------------------------------------------------------------
step=$SECONDS
tarball=$cache/$suite-minbase-$arch.tar
mkdir -p "$cache/archives/partial" "$root"
if [[ -n ${CXR_PACKAGE_TEST_REFRESH:-} || ! -s $tarball ]]; then
  say "debootstrap --variant=minbase $suite (first run: a few minutes)"
  debootstrap --variant=minbase --arch="$arch" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (network? mirror $mirror)"; }
  tar -C "$root" --exclude="./var/cache/apt/archives/*.deb" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  mark "debootstrap (no cache)" "$step"
else
  tar -C "$root" -xf "$tarball" || die "cannot unpack the cached root $tarball (CXR_PACKAGE_TEST_REFRESH=1 remakes it)"
  mark "bare root from cache" "$step"
fi
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" # no services start in the root
chmod 755 "$root/usr/sbin/policy-rc.d"
mount_in() { # mount_in TARGET MOUNT-ARGS...
  local target=$1
  shift
  mount "$@" "$target" || die "cannot mount $target"
  mounts+=("$target")
}
mount_in "$root/proc" -t proc proc
mount_in "$root/sys" -t sysfs sysfs
mount_in "$root/dev" --bind /dev
mount_in "$root/var/cache/apt/archives" --bind "$cache/archives" # downloads kept between runs

in_root() { # runs a command in the root, as a user of the installed package would
  chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# ---- 3. install the package with apt, as a user would -----------------------------------------------
step=$SECONDS
# shellcheck disable=SC2016 # dpkg-query's own ${Package}
before=$(in_root dpkg-query -W -f='${Package}\n' | wc -l)
in_root apt-get update -qq >"$work/apt-update.log" 2>&1 ||
  { cat "$work/apt-update.log" >&2; die "apt-get update failed in the root"; }
mkdir -p "$root/tmp/cxr/out"
cp "$deb" "$root/tmp/cxr/"
in_root apt-get install -y -q --no-install-recommends "/tmp/cxr/$(basename "$deb")" >"$work/apt-install.log" 2>&1 ||
  { tail -n 40 "$work/apt-install.log" >&2; die "apt-get install ./$(basename "$deb") failed in the bare root"; }
# shellcheck disable=SC2016
after=$(in_root dpkg-query -W -f='${Package}\n' | wc -l)
mark "apt-get install (deps included)" "$step"
say "installed with $((after - before - 1)) dependencies; root is $(du -sh --one-file-system "$root" | cut -f1)"

# ---- 4. what the package installed, and whether it loads --------------------------------------------
bin_assistant=/usr/bin/cxr-assistant
bin_llava=/usr/bin/cxr-llava
shim=$(in_root dpkg -L cxr-assistant | grep '/libcxr_spm\.so$' || true)
[[ -n $shim ]] || die "the package does not install libcxr_spm.so (the tokenizer shim)"
for f in "$bin_assistant" "$bin_llava" "$shim"; do
  [[ -f $root$f ]] || die "the package does not install $f"
  missing=$(in_root ldd "$f" | grep 'not found' || true)
  [[ -z $missing ]] || die "$f: libraries missing in the bare root (add their packages to Depends):
$missing"
done
for plugin in platforms/libqoffscreen.so platforms/libqxcb.so sqldrivers/libqsqlite.so imageformats/libqtiff.so \
  imageformats/libqsvg.so iconengines/libqsvgicon.so; do
  f=/usr/lib/$multiarch/qt6/plugins/$plugin
  [[ -f $root$f ]] || die "Qt plugin $f is not installed by the package's Depends"
  missing=$(in_root ldd "$f" | grep 'not found' || true)
  [[ -z $missing ]] || die "$f: libraries missing: $missing"
done
blas=$(in_root readlink -f "/usr/lib/$multiarch/libblas.so.3")
[[ $blas == *openblas* ]] || die "libblas.so.3 is $blas, not OpenBLAS (fp32 would be slow)"
say "binaries, shim ($shim), Qt plugins load; libblas.so.3 -> $blas"

# ---- 5. run the program in the root -------------------------------------------------------------------
cp "$sample" "$root/tmp/cxr/sample.png"
cp "$dicom" "$root/tmp/cxr/image.dcm"
cp -r "$checkpoint" "$root/tmp/cxr/model"
mkdir -p "$root/tmp/cxr/home"
run_app() { # run_app NAME COMMAND...: offscreen, scratch HOME, output in $work/NAME.{out,err}
  local name=$1
  shift
  local rc=0
  in_root env QT_QPA_PLATFORM=offscreen HOME=/tmp/cxr/home XDG_RUNTIME_DIR=/tmp/cxr/home "$@" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if ((rc != 0)); then
    cat "$work/$name.err" >&2
    die "$name: '$*' exited with status $rc in the bare root"
  fi
  # Qt writes these and carries on; in the installed program each means a missing package.
  if grep -E "driver not loaded|Cannot find font|Could not find the Qt platform plugin|cannot load the tokenizer" \
    "$work/$name.err" >&2; then
    die "$name: a run-time dependency is missing (see the lines above)"
  fi
}
# shellcheck disable=SC2059 # the format is the bytes, as \x escapes
hex() { printf "$(printf '%s' "$@" | sed 's/../\\x&/g')"; } # hex 4949 2a00: writes those bytes
write_tiff() { # write_tiff FILE: a 64x64 8-bit gray baseline TIFF, uncompressed, one strip
  local row
  {
    hex 49492a00 08000000 0900 # little-endian, first IFD at offset 8; 9 entries of tag/type/count/value
    hex 0001 0300 01000000 40000000 0101 0300 01000000 40000000 # width 64, height 64
    hex 0201 0300 01000000 08000000 0301 0300 01000000 01000000 # 8 bits, no compression
    hex 0601 0300 01000000 01000000 1101 0400 01000000 7a000000 # BlackIsZero, strip at 122 = 8+2+9*12+4
    hex 1501 0300 01000000 01000000 1601 0300 01000000 40000000 # 1 sample, 64 rows per strip
    hex 1701 0400 01000000 00100000 00000000                    # 4096 strip bytes; no next IFD
    for ((row = 0; row < 64; row++)); do # a vertical gradient
      hex "$(printf '%0128d' 0 | sed "s/00/$(printf '%02x' $((row * 4)))/g")"
    done
  } >"$1"
}
has_magic() { # has_magic FILE HEX-BYTES: the file starts with those bytes
  [[ -s $1 ]] && [[ $(head -c $((${#2} / 2)) "$1" | od -An -tx1 | tr -d ' \n') == "$2" ]]
}
step=$SECONDS
run_app render-png cxr-assistant --render /tmp/cxr/sample.png /tmp/cxr/out/render.png
has_magic "$root/tmp/cxr/out/render.png" 89504e47 || die "--render of the sample wrote no PNG"
run_app render-dicom cxr-assistant --render /tmp/cxr/image.dcm /tmp/cxr/out/render-dicom.png
has_magic "$root/tmp/cxr/out/render-dicom.png" 89504e47 || die "--render of a DICOM wrote no PNG"
# TIFF is read by qt6-image-formats-plugins' plugin: a small gradient TIFF, rendered to PNG.
write_tiff "$root/tmp/cxr/gradient.tiff"
run_app render-tiff cxr-assistant --render /tmp/cxr/gradient.tiff /tmp/cxr/out/render-tiff.png
has_magic "$root/tmp/cxr/out/render-tiff.png" 89504e47 || die "--render of a TIFF wrote no PNG"
mark "cxr-assistant --render (3 images)" "$step"
say "rendered the sample PNG, a DICOM and a TIFF to PNG"

step=$SECONDS
run_app llava cxr-llava report --image /tmp/cxr/sample.png --model /tmp/cxr/model --temperature 0 --seed "$seed" \
  --max-new-tokens 16
[[ -n $(tr -d '[:space:]' <"$work/llava.out") ]] || die "cxr-llava report printed no text"
mark "cxr-llava report (tiny64)" "$step"
say "cxr-llava report: $(head -c 80 "$work/llava.out" | tr '\n' ' ')"

step=$SECONDS
run_app batch cxr-assistant --open /tmp/cxr/sample.png --model /tmp/cxr/model --run report --temperature 0 \
  --seed "$seed" --export-pdf /tmp/cxr/out/report.pdf --export-txt /tmp/cxr/out/report.txt --quit-when-done
mark "batch report + PDF (offscreen)" "$step"
pdf=$root/tmp/cxr/out/report.pdf
has_magic "$pdf" 255044462d || die "the batch run wrote no PDF ($pdf does not start with %PDF-)"
grep -q "$seed" "$root/tmp/cxr/out/report.txt" || die "the text export lacks the run's seed $seed"
[[ -n $(tr -d '[:space:]' <"$work/batch.out") ]] || die "the batch run generated no text"
if command -v pdftotext >/dev/null; then
  pdftotext "$pdf" - | grep -q "$seed" || die "the PDF has no text with the seed $seed (fonts missing?)"
  say "PDF text checked with pdftotext"
else
  say "pdftotext is not installed here: the PDF's text is not checked (only its header)"
fi
say "batch report exported a PDF ($(stat -c %s "$pdf") bytes) with its text"

# The window itself (QApplication, icons, the chat panel with its history), offscreen: the same
# report, exported when done, then a screenshot and exit. Unlike batch runs it keeps the history.
step=$SECONDS
run_app window cxr-assistant --open /tmp/cxr/sample.png --model /tmp/cxr/model --run report --temperature 0 \
  --seed "$seed" --export-pdf /tmp/cxr/out/window.pdf --screenshot /tmp/cxr/out/window.png
mark "window report + PDF + screenshot" "$step"
has_magic "$root/tmp/cxr/out/window.pdf" 255044462d || die "the window run wrote no PDF"
has_magic "$root/tmp/cxr/out/window.png" 89504e47 || die "the window run wrote no screenshot"
history=$(find "$root/tmp/cxr/home" -name 'history.sqlite' -size +0 | head -n1)
[[ -n $history ]] || die "the window run created no history database under \$HOME (Qt's SQLite driver missing?)"
has_magic "$history" 53514c69746520666f726d61742033 || die "$history is not an SQLite database"
if command -v sqlite3 >/dev/null; then
  n=$(sqlite3 "file:$history?mode=ro" 'SELECT count(*) FROM messages') || die "cannot read $history"
  ((n > 0)) || die "the history $history holds no messages after the window's report"
  say "window run: PDF, screenshot, and $n messages in the history"
else
  say "window run: PDF, screenshot and a history database (sqlite3 is not installed here to read it)"
fi
mark "total" "$t0"
say "passed (outputs and logs in $results). Timings:"
printf '    %s\n' "${timings[@]}"
