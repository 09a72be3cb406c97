#!/usr/bin/env bash
# What the tests need beyond Python: shellcheck and systemd's systemd-analyze,
# systemd-sysusers and systemd-tmpfiles (Debian package systemd; containers
# often lack it) for the deploy tests; espeak-ng, to rebuild the spoken
# prompts and compare them with the committed ones; chromium, for the console's
# browser tests; libzbar0, the QR decoder
# that reads back the codes the screens draw (through pyzbar); nginx, the
# reverse proxy the operator guide puts in front of the centre. Installs what
# is missing when run as root, quietly; otherwise says what to install.
# Prints nothing when all is there.
set -euo pipefail

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
  if ! command -v "$tool" >/dev/null; then
    missing+=(systemd)
    break
  fi
done
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
# A library, not a command: ask dpkg (pyzbar loads libzbar.so.0 through ctypes).
dpkg-query -W -f='${Status}' libzbar0 2>/dev/null | grep -q "install ok installed" || missing+=(libzbar0)
# The console's browser tests drive Debian's Chromium through Playwright (never a browser Playwright downloads).
command -v chromium >/dev/null || missing+=(chromium)
# The tests start nginx themselves: installing it starts no server (policy-rc.d, below).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "testdeps: not a Debian system; some tests need: ${missing[*]} (else they skip)" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "testdeps: some tests need: ${missing[*]} (else they skip)" >&2
  echo "testdeps: run 'sudo apt-get install ${missing[*]}' (or run make as root)" >&2
  exit 0
fi
echo "testdeps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian starts the services its packages install (nginx on port 80) unless policy-rc.d says no: 101.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
