#!/usr/bin/env bash
# Install Hailo Face as a systemd service (run as root on a Debian-based host
# where HailoRT and its driver are already installed and match).
#   deploy/install-standalone.sh            # the server under /opt/hailo-face
# HailoRT: this script does not install it. Install the HailoRT of your
# driver's version and its Python wheel (hailo_platform) into
# /opt/hailo-face/venv afterwards, e.g. on Raspberry Pi OS:
#   /opt/hailo-face/venv/bin/pip install /path/to/hailort-<version>-cp3XX-...whl
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

"$root/addon/install.sh" --prefix /opt/hailo-face --no-hailort
install -D -m 0644 "$here/systemd/hailo-face.sysusers" /usr/lib/sysusers.d/hailo-face.conf
systemd-sysusers /usr/lib/sysusers.d/hailo-face.conf
install -D -m 0644 "$here/systemd/hailo-face.service" /etc/systemd/system/hailo-face.service
if [ ! -e /etc/hailo-face/hailo-face.yaml ]; then
    install -D -m 0640 -g hailo-face "$here/systemd/hailo-face.yaml" /etc/hailo-face/hailo-face.yaml
fi
systemctl daemon-reload
systemctl enable --now hailo-face.service
echo "Hailo Face is running: journalctl -u hailo-face -f; curl http://localhost:5002/health"
