#!/usr/bin/env bash
# make pi-check: prove the runtime-only install and `nima score` / `nima watch` on 64-bit Arm Linux.
#
# No Raspberry Pi is at hand, so this builds a Debian 12 (bookworm) arm64 userspace — the base of
# Raspberry Pi OS Bookworm 64-bit — and runs it under qemu-user emulation through binfmt_misc:
#   1. host tools: qemu-user-static, binfmt-support, debootstrap (Debian packages), binfmt for aarch64
#   2. rootfs: debootstrap bookworm arm64 into .cache/pi-rootfs (kept and reused on later runs)
#   3. host: a wheel of this checkout (pip wheel --no-deps) and test inputs (images + a short .mp4)
#   4. device: a fresh venv, plain `pip install nima_edge-*.whl` (arm64 wheels from PyPI), no TensorFlow
#   5. device: `nima score --json` on the images and `nima watch VIDEO --max-frames N --json`
#   6. compare device scores with the host's (same wheel code, same model) within PI_TOL
# What was installed and what ran is written to .cache/pi-check/report.md (excerpted in
# docs/raspberry-pi.md). Timing under emulation means nothing; only correctness and the install do.
#
# Knobs (environment): PI_ROOTFS (rootfs folder), PI_TOL (images and the video's frames, default 0.02),
# PI_VIDEO_TOL (the watch summary, default 0.05), PI_DECODE_TOL (grey levels, default 4), PI_FRAMES (default 20), PI_KIOSK=0 (skip the kiosk window stage),
# PI_FRESH=1 (delete and rebuild the rootfs), HOST_PY (host python with the [train] extra).
# Needs root (debootstrap, chroot, mounts); network only to Debian's archive and PyPI.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$REPO/.cache
ROOT=${PI_ROOTFS:-$CACHE/pi-rootfs}
WORK=$CACHE/pi-check
TOL=${PI_TOL:-0.02}
# Video frames are decoded by FFmpeg inside OpenCV, whose YUV->BGR conversion rounds differently
# on arm64: measured up to 2 grey levels (mean 0.9) on the test video. Identical images give
# identical scores on both machines, but an int8 model's output moves in 1/256 steps of a bin,
# i.e. up to ~0.035 on the mean, so frames from a video get a wider tolerance.
VIDEO_TOL=${PI_VIDEO_TOL:-0.05}
# A trained model's score can move by a few tenths when its input moves by 2 grey levels (measured
# on the host: up to 0.20 on these frames), so the frame-by-frame check scores the host's decoded
# frames (PNG) on the device, within TOL, and the decoder is judged on its own, in grey levels.
DECODE_TOL=${PI_DECODE_TOL:-4}
FRAMES=${PI_FRAMES:-20}
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
SUITE=bookworm
DEV_VENV=/opt/nima-venv
DEV_WORK=/opt/pi-check
LOG=$WORK/pi-check.log
REPORT=$WORK/report.md

RESULTS=()
FAILED=0

say() { echo "[pi-check $(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }
pass() { RESULTS+=("PASS  $1"); say "PASS $1"; }
fail() { RESULTS+=("FAIL  $1"); FAILED=1; say "FAIL $1"; }

summary() {
    echo
    echo "================ pi-check summary ================"
    printf '%s\n' "${RESULTS[@]}"
    if [ "$FAILED" = 0 ] && [ "${#RESULTS[@]}" -gt 0 ]; then
        echo "RESULT: PASS (arm64 runtime install and scoring match the host: images and video frames within $TOL, watch within $VIDEO_TOL, decoding within $DECODE_TOL grey levels)"
    else
        echo "RESULT: FAIL (see $LOG)"
    fi
    echo "report: $REPORT"
}

unmount_all() {
    for sub in tmp/.X11-unix proc/cpuinfo dev/pts dev proc sys; do
        if mountpoint -q "$ROOT/$sub" 2>/dev/null; then umount -l "$ROOT/$sub" || true; fi
    done
}

BACKGROUND_PIDS=()
finish() {
    for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    unmount_all
    summary
    [ "$FAILED" = 0 ]
    exit $?
}
trap finish EXIT

abort() { fail "$1"; exit 1; }

# Run a command inside the arm64 userspace with a clean environment: only what a Pi user would have.
# QEMU_CPU picks the emulated core (its instruction set and HWCAPs), see use_profile.
device() {
    chroot "$ROOT" /usr/bin/env -i \
        PATH="$DEV_VENV/bin:/usr/local/bin:/usr/bin:/bin" HOME=/root LANG=C.UTF-8 \
        PIP_CERT=/etc/ssl/certs/host-ca.crt PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PYTHONDONTWRITEBYTECODE=1 ${QEMU_CPU:+QEMU_CPU=$QEMU_CPU} "$@"
}

# Pi profiles: the core qemu emulates, and the /proc/cpuinfo a Pi of that kind shows.
# qemu-user passes the host's x86 /proc/cpuinfo through, and the cpuinfo library inside LiteRT
# (XNNPACK) segfaults on it (exit 139 at Interpreter creation): a real Pi shows its own, so an
# arm64 one is bind-mounted over it. QEMU_CPU=cortex-a72 also withholds the dot-product
# instructions a Pi 4 lacks, so a kernel that used them anyway would die with SIGILL.
PROFILES=(
    "pi4|cortex-a72|0xd08|fp asimd evtstrm crc32 cpuid|Raspberry Pi 4 Model B"
    "pi5|cortex-a76|0xd0b|fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp|Raspberry Pi 5 Model B"
)
use_profile() {  # $1 = one PROFILES entry
    local name core part features model file
    IFS='|' read -r name core part features model <<< "$1"
    file=$WORK/cpuinfo-$name
    : > "$file"
    for ((i = 0; i < $(nproc); i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$i" "$features"
        printf 'CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$part"
    done >> "$file"
    printf 'Model\t\t: %s (emulated by qemu %s)\n' "$model" "$core" >> "$file"
    if mountpoint -q "$ROOT/proc/cpuinfo"; then umount "$ROOT/proc/cpuinfo"; fi
    mount --bind "$file" "$ROOT/proc/cpuinfo"
    QEMU_CPU=$core
    PROFILE=$name
}
QEMU_CPU=

mkdir -p "$WORK"
# The cache is never committed: a self-ignoring folder needs no change to the top-level .gitignore.
[ -f "$CACHE/.gitignore" ] || echo '*' > "$CACHE/.gitignore"
: > "$LOG"
say "repo $REPO, rootfs $ROOT, tolerance $TOL"

[ "$(id -u)" = 0 ] || abort "needs root (debootstrap, chroot and mounts); run as root or with sudo"
[ -x "$HOST_PY" ] || abort "host python $HOST_PY missing: run \`make setup\` first"

# ---- 1. host tools and binfmt ---------------------------------------------------------------
need_pkgs=()
command -v qemu-aarch64-static >/dev/null || need_pkgs+=(qemu-user-static)
command -v update-binfmts >/dev/null || need_pkgs+=(binfmt-support)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    say "installing ${need_pkgs[*]}"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}"; } >>"$LOG" 2>&1 \
        || abort "apt-get install ${need_pkgs[*]}"
fi

binfmt=/proc/sys/fs/binfmt_misc
if ! [ -e "$binfmt/qemu-aarch64" ]; then
    mountpoint -q "$binfmt" || mount -t binfmt_misc binfmt_misc "$binfmt" >>"$LOG" 2>&1
    update-binfmts --enable qemu-aarch64 >>"$LOG" 2>&1
fi
if grep -q enabled "$binfmt/qemu-aarch64" 2>/dev/null; then
    pass "binfmt_misc runs aarch64 ELF files through $(sed -n 's/^interpreter //p' "$binfmt/qemu-aarch64")"
else
    # Without binfmt only the first process could run (qemu-aarch64-static ROOT/bin/sh), and every
    # exec inside it (dpkg, pip's subprocesses) would fail, so there is no useful fallback.
    abort "cannot register binfmt_misc for aarch64 (mount binfmt_misc and run update-binfmts --enable qemu-aarch64)"
fi

# ---- 2. the arm64 rootfs (cached) ---------------------------------------------------------
unmount_all
if [ "${PI_FRESH:-0}" = 1 ] || { [ -d "$ROOT" ] && ! [ -f "$ROOT/.pi-check-rootfs-ok" ]; }; then
    say "removing old or partial rootfs $ROOT"
    rm -rf --one-file-system "$ROOT"
fi
if ! [ -f "$ROOT/.pi-check-rootfs-ok" ]; then
    say "debootstrap $SUITE arm64 into $ROOT (several minutes under emulation)"
    mkdir -p "$ROOT"
    if debootstrap --arch=arm64 --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates "$SUITE" "$ROOT" >>"$LOG" 2>&1; then
        date -u > "$ROOT/.pi-check-rootfs-ok"
    else
        tail -20 "$ROOT/debootstrap/debootstrap.log" >>"$LOG" 2>/dev/null
        abort "debootstrap $SUITE arm64"
    fi
else
    say "reusing rootfs built $(cat "$ROOT/.pi-check-rootfs-ok")"
fi
mount -t proc proc "$ROOT/proc" && mount -t sysfs sysfs "$ROOT/sys" && mount --bind /dev "$ROOT/dev" \
    && use_profile "${PROFILES[0]}" || abort "mounting /proc, /sys and /dev into the rootfs"
# The host's CA bundle (the sandbox may sit behind a TLS proxy) and name resolution, for pip.
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/host-ca.crt"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
arch=$(device uname -m)
[ "$arch" = aarch64 ] && pass "rootfs runs: uname -m = $arch ($(device sh -c '. /etc/os-release; echo $PRETTY_NAME'))" \
    || abort "rootfs reports uname -m = '$arch', expected aarch64"

# ---- 3. host side: wheel, model, inputs, reference scores --------------------------------
rm -rf "$WORK/dist" "$WORK/inputs" "$WORK/host" "$WORK/device"
mkdir -p "$WORK/dist" "$WORK/host" "$WORK/device"
say "building the wheel on the host"
(cd "$REPO" && "$HOST_PY" -m pip wheel -q --no-deps --no-build-isolation . -w "$WORK/dist") >>"$LOG" 2>&1 \
    || abort "pip wheel --no-deps . (host)"
wheel=$(ls "$WORK"/dist/nima_edge-*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || abort "no nima_edge wheel was built"
pass "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) kB)"

model_args=()
if [ -f "$REPO/models/default.tflite" ] && "$HOST_PY" -c "import sys, zipfile
sys.exit('nima_edge/models/default.tflite' not in zipfile.ZipFile(sys.argv[1]).namelist())" "$wheel"; then
    model_label="the bundled default model (models/default.tflite, inside the wheel)"
else
    say "models/default.tflite not in the wheel yet: building the tiny test model with TensorFlow on the host"
    "$HOST_PY" "$REPO/scripts/pi_tiny_model.py" "$WORK/tiny.tflite" --size 64 --defects --int8 >>"$LOG" 2>&1 \
        || abort "building the tiny test model (scripts/pi_tiny_model.py)"
    model_args=(--model "$DEV_WORK/tiny.tflite")
    model_label="the tiny test model (scripts/pi_tiny_model.py --int8: full int8, uint8 input, 64 px, random fixed weights)"
fi

"$HOST_PY" "$REPO/scripts/pi_check_tools.py" inputs "$WORK/inputs" >>"$LOG" 2>&1 || abort "making test inputs"
images=(page.jpg blurred.jpg dark.png noise.png)
video=capture.mp4

# Lay out the device's working folder so host and device run the same command lines on the same paths.
rm -rf "$ROOT$DEV_WORK" && mkdir -p "$ROOT$DEV_WORK"
cp -r "$WORK/inputs" "$wheel" "$REPO/scripts/pi_check_tools.py" "$ROOT$DEV_WORK/"
[ -f "$WORK/tiny.tflite" ] && [ "${#model_args[@]}" -gt 0 ] && cp "$WORK/tiny.tflite" "$ROOT$DEV_WORK/"

score_cmd() {  # $1 = the folder holding nima
    echo "$1/nima score --json ${model_args[*]} ${images[*]/#/$DEV_WORK/inputs/}"
}
watch_cmd() {
    echo "$1/nima watch $DEV_WORK/inputs/$video --max-frames $FRAMES --json ${model_args[*]}"
}

frames_cmd() {  # every decoded frame of the video, as the host decoded it: the model alone, as the frames' own
    echo "$1/nima score --json --no-checks ${model_args[*]} $DEV_WORK/inputs/frames/*.png"
}

# The host runs the same command lines; /opt/pi-check on the host is a link to the device's folder.
host_bin=$(dirname "$HOST_PY")
ln -sfn "$ROOT$DEV_WORK" "$WORK/host-view"
run_host() {
    local cmd=${1//$DEV_WORK/$WORK/host-view}
    (cd "$REPO" && eval "$cmd")
}
run_host "$(score_cmd "$host_bin")" > "$WORK/host/score.jsonl" 2>>"$LOG" || abort "host reference: score"
run_host "$(watch_cmd "$host_bin")" > "$WORK/host/watch.jsonl" 2>>"$LOG" || abort "host reference: watch"
# `nima watch --json` reports state changes only; every frame's score comes from the Scorer API, on
# the frames the host decoded.
run_host "$(frames_cmd "$host_bin")" > "$WORK/host/frames.jsonl" 2>>"$LOG" || abort "host reference: frames"
say "host reference: $(wc -l < "$WORK/host/score.jsonl") score lines, $(wc -l < "$WORK/host/watch.jsonl") watch lines"

# ---- 4. device: runtime-only install --------------------------------------------------------
say "device: fresh venv and pip install $(basename "$wheel") (arm64 wheels from PyPI)"
if device python3 -m venv --clear "$DEV_VENV" >>"$LOG" 2>&1 \
        && device pip install -q --upgrade pip >>"$LOG" 2>&1 \
        && device pip install "$DEV_WORK/$(basename "$wheel")" >>"$LOG" 2>&1; then
    pass "pip install $(basename "$wheel") in a Bookworm arm64 venv"
else
    abort "pip install of the wheel inside the arm64 rootfs (see $LOG)"
fi
device pip freeze > "$WORK/device/pip-freeze.txt" 2>>"$LOG"
if grep -qiE '^(tensorflow|tf-keras|tf_keras|keras|tensorflow-model-optimization)[=@ ]' "$WORK/device/pip-freeze.txt"; then
    fail "TensorFlow (or Keras) was installed on the device: $(grep -iE '^(tensorflow|tf|keras)' "$WORK/device/pip-freeze.txt" | tr '\n' ' ')"
elif device python -c "import tensorflow" >/dev/null 2>&1; then
    fail "import tensorflow works on the device"
else
    pass "no TensorFlow on the device ($(grep -ciE '^[a-z]' "$WORK/device/pip-freeze.txt") packages: $(sed 's/==/ /' "$WORK/device/pip-freeze.txt" | awk '{print $1}' | tr '\n' ' '))"
fi
if device python -c "import sys, nima_edge.runtime; sys.exit('tensorflow' in sys.modules)" >>"$LOG" 2>&1; then
    pass "nima_edge.runtime imports without pulling in TensorFlow"
else
    fail "nima_edge.runtime import on the device"
fi

# ---- 5./6. device: score and watch under each Pi profile, compared with the host -----------
for profile in "${PROFILES[@]}"; do
    use_profile "$profile"
    out_dir=$WORK/device/$PROFILE
    mkdir -p "$out_dir"
    say "device $PROFILE (qemu $QEMU_CPU): $(score_cmd "$DEV_VENV/bin")"
    device sh -c "$(score_cmd "$DEV_VENV/bin")" > "$out_dir/score.jsonl" 2>>"$LOG"
    rc=$?
    [ $rc = 0 ] && pass "$PROFILE: score on ${#images[@]} images ran on arm64 $QEMU_CPU (exit 0)" \
        || fail "$PROFILE: score on arm64 $QEMU_CPU exited $rc"
    say "device $PROFILE (qemu $QEMU_CPU): $(watch_cmd "$DEV_VENV/bin")"
    device sh -c "$(watch_cmd "$DEV_VENV/bin")" > "$out_dir/watch.jsonl" 2>>"$LOG"
    rc=$?
    [ $rc = 0 ] && pass "$PROFILE: watch on $video ($FRAMES frames max) ran on arm64 $QEMU_CPU: $(grep -c '^{' "$out_dir/watch.jsonl") JSON lines" \
        || fail "$PROFILE: watch on arm64 $QEMU_CPU exited $rc"
    device sh -c "$(frames_cmd "$DEV_VENV/bin")" > "$out_dir/frames.jsonl" 2>>"$LOG" \
        || fail "$PROFILE: scoring the video frame by frame on arm64 $QEMU_CPU"
    decoded=$(device sh -c "$DEV_VENV/bin/python $DEV_WORK/pi_check_tools.py decode-diff $DEV_WORK/inputs/$video \
        $DEV_WORK/inputs/frames --max-frames $FRAMES" 2>>"$LOG")
    worst=$(echo "$decoded" | "$HOST_PY" -c "import json, sys; print(max([json.loads(l)['max_grey_diff'] for l in sys.stdin if l.startswith('{')] or [-1]))")
    mean=$(echo "$decoded" | "$HOST_PY" -c "import json, sys; v = [json.loads(l)['mean_grey_diff'] for l in sys.stdin if l.startswith('{')]; print(round(sum(v) / max(len(v), 1), 3))")
    if [ "$worst" -ge 0 ] && [ "$worst" -le "$DECODE_TOL" ]; then
        pass "$PROFILE: video decodes like the host's: at most $worst grey levels apart (mean $mean; tolerance $DECODE_TOL)"
    else
        fail "$PROFILE: video decoding differs from the host's by $worst grey levels (tolerance $DECODE_TOL; -1: nothing decoded)"
    fi
    for name in score watch frames; do
        tol=$TOL
        [ "$name" = watch ] && tol=$VIDEO_TOL
        if out=$("$HOST_PY" "$REPO/scripts/pi_check_tools.py" compare "$WORK/host/$name.jsonl" "$out_dir/$name.jsonl" --tol "$tol" 2>&1); then
            pass "$PROFILE: $name matches the host: $(echo "$out" | tail -1)"
        else
            echo "$out" >>"$LOG"
            fail "$PROFILE: $name differs from the host: $(echo "$out" | tail -1)"
        fi
    done
done

# ---- 7. kiosk: `nima watch --kiosk` in a window, with the GUI OpenCV a kiosk needs ------------
# opencv-python-headless (the runtime dependency) has no windows. A kiosk venv swaps it for
# opencv-python of the same version (Qt/xcb inside the wheel; it needs libGL and glib from apt).
# The window goes to an Xvfb display on the host (the X socket is bind-mounted into the rootfs),
# with openbox as the window manager so the full-screen request is honoured as on the Pi desktop.
if [ "${PI_KIOSK:-1}" = 1 ]; then
    use_profile "${PROFILES[1]}"
    kiosk_ok=1
    host_pkgs=()
    for tool in Xvfb:xvfb xwd:x11-apps xwininfo:x11-utils openbox:openbox; do
        command -v "${tool%%:*}" >/dev/null || host_pkgs+=("${tool#*:}")
    done
    if [ "${#host_pkgs[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${host_pkgs[@]}" >>"$LOG" 2>&1 || kiosk_ok=0
    fi
    if ! [ -f "$ROOT/.pi-check-kiosk-libs-ok" ]; then
        say "kiosk: apt-get install libgl1 libglib2.0-0 ... inside the rootfs"
        device sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            libgl1 libglib2.0-0 libsm6 libice6 libxext6 libxrender1 libfontconfig1 libdbus-1-3" >>"$LOG" 2>&1 \
            && date -u > "$ROOT/.pi-check-kiosk-libs-ok" || kiosk_ok=0
    fi
    KIOSK_VENV=/opt/nima-kiosk
    cv_version=$(grep -i '^opencv-python-headless==' "$WORK/device/pip-freeze.txt" | cut -d= -f3)
    say "kiosk: venv $KIOSK_VENV with opencv-python==$cv_version instead of the headless wheel"
    if [ $kiosk_ok = 1 ] && device python3 -m venv --clear "$KIOSK_VENV" >>"$LOG" 2>&1 \
            && device "$KIOSK_VENV/bin/pip" install -q "$DEV_WORK/$(basename "$wheel")" >>"$LOG" 2>&1 \
            && device "$KIOSK_VENV/bin/pip" uninstall -y -q opencv-python-headless >>"$LOG" 2>&1 \
            && device "$KIOSK_VENV/bin/pip" install -q "opencv-python==$cv_version" >>"$LOG" 2>&1; then
        pass "kiosk: opencv-python $cv_version (GUI: $(device "$KIOSK_VENV/bin/python" -c \
            "import cv2; print([l.split(':')[1].strip() for l in cv2.getBuildInformation().splitlines() if l.strip().startswith('GUI:')][0])")) installs on arm64"
    else
        kiosk_ok=0
        fail "kiosk: installing the GUI OpenCV venv on arm64 (see $LOG)"
    fi
    if [ $kiosk_ok = 1 ]; then
        display=77
        while [ -e "/tmp/.X11-unix/X$display" ]; do display=$((display + 1)); done
        Xvfb ":$display" -screen 0 800x480x24 -nolisten tcp >>"$LOG" 2>&1 &
        BACKGROUND_PIDS+=($!)
        sleep 2
        DISPLAY=":$display" openbox >>"$LOG" 2>&1 &
        BACKGROUND_PIDS+=($!)
        mkdir -p "$ROOT/tmp/.X11-unix" && mount --bind /tmp/.X11-unix "$ROOT/tmp/.X11-unix"
        rm -rf "$ROOT$DEV_WORK/captures"
        kiosk_cmd="$KIOSK_VENV/bin/nima watch $DEV_WORK/inputs/$video --kiosk --max-frames 40 --ready-frames 3 \
--save-best $DEV_WORK/captures --json ${model_args[*]}"
        say "kiosk ($QEMU_CPU, DISPLAY :$display 800x480): $kiosk_cmd"
        chroot "$ROOT" /usr/bin/env -i PATH="$KIOSK_VENV/bin:/usr/bin:/bin" HOME=/root LANG=C.UTF-8 \
            QEMU_CPU="$QEMU_CPU" DISPLAY=":$display" QT_QPA_PLATFORM=xcb sh -c "$kiosk_cmd" \
            > "$WORK/device/kiosk.jsonl" 2>>"$LOG" &
        kiosk_pid=$!
        geometry=
        for _ in $(seq 60); do
            sleep 1
            geometry=$(xwininfo -root -tree -display ":$display" 2>/dev/null | grep '"nima watch"' | grep -o '[0-9]*x[0-9]*+[0-9]*+[0-9]*' | head -1)
            [ -n "$geometry" ] && break
        done
        sleep 4  # a few frames drawn
        xwd -root -silent -display ":$display" > "$WORK/kiosk.xwd" 2>>"$LOG"
        wait "$kiosk_pid"
        rc=$?
        "$HOST_PY" - "$WORK/kiosk.xwd" "$WORK/kiosk-pi5.png" >>"$LOG" 2>&1 <<'PY'
import sys, numpy as np, cv2
# XWD: a big-endian header (header_size first), a colour map, then 32-bit BGRX pixels for a 24-bit Xvfb.
data = open(sys.argv[1], "rb").read()
header = np.frombuffer(data[:100], ">u4")
size, width, height, ncolors = int(header[0]), int(header[4]), int(header[5]), int(header[19])
bytes_per_line = int(header[12])
pixels = np.frombuffer(data[size + 12 * ncolors:], np.uint8)[:bytes_per_line * height]
image = pixels.reshape(height, bytes_per_line)[:, :width * 4].reshape(height, width, 4)[..., :3]
cv2.imwrite(sys.argv[2], image)
PY
        kiosk_lines=$(grep -c '^{' "$WORK/device/kiosk.jsonl")
        saved=$(ls "$ROOT$DEV_WORK/captures" 2>/dev/null | wc -l)
        if [ $rc = 0 ] && [ "$geometry" = "800x480+0+0" ] && [ -s "$WORK/kiosk-pi5.png" ]; then
            pass "kiosk: full-screen window ($geometry) on arm64, $kiosk_lines events, $saved best frame(s) saved; screenshot $WORK/kiosk-pi5.png"
        else
            fail "kiosk: exit $rc, window geometry '${geometry:-none}' (expected 800x480+0+0)"
        fi
        for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
        BACKGROUND_PIDS=()
        umount "$ROOT/tmp/.X11-unix"
    fi
fi

# ---- record what was installed and what ran ------------------------------------------------
{
    echo "# pi-check report ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "host: $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME"), qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}')"
    echo "device: uname -m = $(device uname -m), $(device sh -c '. /etc/os-release; echo $PRETTY_NAME'), $(device python --version)"
    echo "model: $model_label"
    echo
    echo '## /etc/os-release (device)'
    echo '```'; device cat /etc/os-release; echo '```'
    echo '## pip freeze (device venv)'
    echo '```'; cat "$WORK/device/pip-freeze.txt"; echo '```'
    echo '## commands run on the device'
    echo '```'; echo "pip install $(basename "$wheel")"; score_cmd "$DEV_VENV/bin"; watch_cmd "$DEV_VENV/bin"
    frames_cmd "$DEV_VENV/bin"; [ -n "${kiosk_cmd:-}" ] && echo "$kiosk_cmd"; echo '```'
    echo '## device output (pi5 profile, first lines)'
    echo '```'; head -c 1500 "$WORK/device/pi5/score.jsonl"; echo; head -3 "$WORK/device/pi5/watch.jsonl"; echo '```'
    echo '## results'
    echo '```'; printf '%s\n' "${RESULTS[@]}"; echo '```'
} > "$REPORT" 2>>"$LOG"
