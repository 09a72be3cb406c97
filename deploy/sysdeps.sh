#!/usr/bin/env bash
# Debian packages the terminal needs: the CJK font, Mesa's EGL/GL for Kivy's
# SDL window (offscreen too), mtdev for touch panels, and venv for Python.
# Kivy's bundled SDL also loads at run time, so pip cannot pull them in:
# libasound2 (ALSA, the voice prompts) and libgbm1 + libdrm2 (its kmsdrm video
# driver, the console without X). A Debian 12 netinst without a desktop lacks
# them; names as in Debian 12 and Raspberry Pi OS Bookworm.
# Installs what is missing when run as root; otherwise says what to install.
set -euo pipefail

PYTHON=${PYTHON:-python3}
packages=(fonts-wqy-microhei libegl1 libgles2 libgl1-mesa-dri libmtdev1 libasound2 libgbm1 libdrm2)
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
  packages+=(python3-venv)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "sysdeps: not a Debian system; make sure these (or their equivalents) are installed: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "sysdeps: missing Debian packages: ${missing[*]}" >&2
  echo "sysdeps: run 'sudo apt-get install ${missing[*]}' (or run make as root)" >&2
  exit 0
fi
echo "sysdeps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
