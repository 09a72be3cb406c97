#!/usr/bin/env bash
# Installs the satisfaction evaluator on a terminal (Raspberry Pi OS Bookworm,
# Debian 12), or stages it into a directory for an image. Idempotent: run it
# again to repair or to pick up a new release; config and data are kept.
#
#   sudo deploy/install.sh [--wheel FILE] [--panel-vendor VID --panel-product PID [--panel-serial S]]
#   sudo deploy/install.sh --uninstall [--purge]
#   deploy/install.sh --root DIR [--no-venv] [...]        # staging root: no apt, no users, no systemctl
#
# What goes where (every path below DIR with --root):
#   /opt/evaluator/releases/<version>   the app in a virtual environment
#   /opt/evaluator/current              symlink to the release in use (switched atomically)
#   /etc/evaluator/config.yaml          the terminal's config (copied once, kept on upgrade)
#   /etc/evaluator/secrets/             device key, PIN hashes, the centre's config and staff photos (0700 evaluator)
#   /var/lib/evaluator/                 the rating store (0750 evaluator)
#   /etc/systemd/system/evaluator-{kiosk,sync}.service, enabled
#   /etc/udev/rules.d/99-evaluator-panel.rules          the panel as /dev/evaluator-panel
#   /etc/udev/rules.d/99-evaluator-backlight.rules      the backlight writable by group video (dimming)
#   /etc/sysusers.d/evaluator.conf, /etc/tmpfiles.d/evaluator.conf   the user, owners and modes
#   /etc/systemd/logind.conf.d/evaluator-kiosk.conf, /etc/sysctl.d/90-evaluator-kiosk.conf
#                                       kiosk lockdown: no login prompt on other VTs, no SysRq
#   with --x11: /etc/systemd/system/evaluator-kiosk.service.d/x11.conf and
#               /etc/X11/xorg.conf.d/10-evaluator-kiosk.conf (no VT switch, no Ctrl+Alt+Backspace)
#
# Owners with --root: nothing is chowned (the staging tree's users are not
# this machine's). The owners are recorded in etc/sysusers.d/evaluator.conf
# and etc/tmpfiles.d/evaluator.conf; apply them in the image with
#   systemd-sysusers --root=DIR evaluator.conf && systemd-tmpfiles --root=DIR --create evaluator.conf
# or let the terminal's first boot do it. Modes are set either way.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
UNITS=(evaluator-kiosk.service evaluator-sync.service)
UDEV_RULE=/etc/udev/rules.d/99-evaluator-panel.rules
BACKLIGHT_RULE=/etc/udev/rules.d/99-evaluator-backlight.rules
SPECIFIC_MARK="# evaluator: panel-specific rule"
CMDLINE=/boot/firmware/cmdline.txt
GRUB_DROPIN=/etc/default/grub.d/evaluator.cfg
BACKOFF_MIN_SYSTEMD=254   # RestartSteps= and RestartMaxDelaySec= appeared in systemd 254
X11_DROPIN=/etc/systemd/system/evaluator-kiosk.service.d/x11.conf
XORG_SNIPPET=/etc/X11/xorg.conf.d/10-evaluator-kiosk.conf
XWRAPPER=/etc/X11/Xwrapper.config
# What installers before rootless Xorg wrote to $XWRAPPER; a file with other content is not ours.
OLD_XWRAPPER=$'allowed_users=anybody\nneeds_root_rights=yes'
KIVY_CONFIG=/var/lib/evaluator/kivy/config.ini
LOGIND_DROPIN=/etc/systemd/logind.conf.d/evaluator-kiosk.conf
SYSCTL_FILE=/etc/sysctl.d/90-evaluator-kiosk.conf

ROOT=""
NO_VENV=0
REINSTALL=0
UNINSTALL=0
PURGE=0
WHEEL=""
PANEL_VENDOR=""
PANEL_PRODUCT=""
PANEL_SERIAL=""
X11=0
# No xserver-xorg-legacy: Xorg runs rootless as the evaluator user (deploy/systemd/x11.conf says why).
X11_PACKAGES=(xserver-xorg xinit)
TMP_DIRS=()

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 2; }
cleanup() { [ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}"; }
trap cleanup EXIT

usage() {
  cat <<'EOF'
Usage: install.sh [OPTIONS]

Install (default):
  --wheel FILE            install this built wheel (default: pip install the repo this script is in)
  --reinstall             rebuild the release's virtual environment even if it exists
  --panel-vendor VID      write one udev rule for this panel (4 hex digits, e.g. 1a86)…
  --panel-product PID     …and product (e.g. 7523) instead of the generic per-chip rules
  --panel-serial S        …and, with two adapters of one chip, its serial number
  --x11                   run the kiosk under X11 (xinit, no desktop) instead of on the KMS/DRM
                          console: installs Xorg, the x11.conf drop-in, touches as pointer events;
                          a later run without it goes back to the console
Uninstall:
  --uninstall             remove the app, the units and the udev rule; keep /etc/evaluator
                          and /var/lib/evaluator (the ratings)
  --purge                 with --uninstall: remove those too, and the evaluator user
Staging:
  --root DIR              install below DIR (an image's root): no apt, no useradd or chown,
                          no systemctl (units are enabled by symlinks)
  --no-venv               with --root: skip creating the virtual environment
Environment: PYTHON (default /usr/bin/python3) builds the venv; PIP_* variables reach pip
(e.g. PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR for an offline install from a wheelhouse).
EOF
}

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
      --root=*) ROOT=${1#--root=} ;;
      --no-venv) NO_VENV=1 ;;
      --reinstall) REINSTALL=1 ;;
      --wheel) [ $# -ge 2 ] || die "--wheel needs a file"; WHEEL=$2; shift ;;
      --wheel=*) WHEEL=${1#--wheel=} ;;
      --x11) X11=1 ;;
      --uninstall) UNINSTALL=1 ;;
      --purge) UNINSTALL=1; PURGE=1 ;;
      --panel-vendor) [ $# -ge 2 ] || die "--panel-vendor needs a value"; PANEL_VENDOR=$2; shift ;;
      --panel-product) [ $# -ge 2 ] || die "--panel-product needs a value"; PANEL_PRODUCT=$2; shift ;;
      --panel-serial) [ $# -ge 2 ] || die "--panel-serial needs a value"; PANEL_SERIAL=$2; shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || die "--root / is the live system: leave --root out"
  else
    [ "$NO_VENV" -eq 0 ] || die "--no-venv only makes sense with --root"
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 …), or stage into a directory with --root DIR"
  fi
  if [ -n "$WHEEL" ]; then
    [ -f "$WHEEL" ] || die "no such wheel: $WHEEL"
    WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
  fi
  PANEL_VENDOR=$(hex4 "$PANEL_VENDOR" --panel-vendor)
  PANEL_PRODUCT=$(hex4 "$PANEL_PRODUCT" --panel-product)
  if [ -n "$PANEL_VENDOR$PANEL_PRODUCT" ] && { [ -z "$PANEL_VENDOR" ] || [ -z "$PANEL_PRODUCT" ]; }; then
    die "--panel-vendor and --panel-product go together"
  fi
  if [ -n "$PANEL_SERIAL" ]; then
    [ -n "$PANEL_VENDOR" ] || die "--panel-serial needs --panel-vendor and --panel-product"
    [[ $PANEL_SERIAL =~ ^[A-Za-z0-9._-]+$ ]] || die "--panel-serial: letters, digits, '.', '_' and '-' only"
  fi
}

hex4() {  # "0x1A86" → "1a86"; empty stays empty
  local value=${1#0x}
  value=${value#0X}
  [ -n "$value" ] || return 0
  [[ $value =~ ^[0-9A-Fa-f]{4}$ ]] || die "$2: 4 hex digits expected, got '$1'"
  printf '%s\n' "${value,,}"
}

at() { printf '%s%s' "$ROOT" "$1"; }   # a target path inside the root being installed

put_file() {  # SRC DEST MODE: copy when different, say what happened
  local src=$1 dest=$2 mode=$3 what=installed
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    say "unchanged ${dest#"$ROOT"}"
    return
  fi
  [ -e "$dest" ] && what=updated
  install -D -m "$mode" "$src" "$dest"
  say "$what ${dest#"$ROOT"}"
}

make_temp_dir() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/evaluator-install.XXXXXX")
  TMP_DIRS+=("$dir")
  printf '%s\n' "$dir"
}

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

# -- install ----------------------------------------------------------------------

install_packages() {
  if [ -n "$ROOT" ]; then
    say "skipping Debian packages (--root); the image needs those of deploy/sysdeps.sh"
    return
  fi
  say "checking Debian packages (deploy/sysdeps.sh)"
  PYTHON="$PYTHON" bash "$HERE/sysdeps.sh"
  if [ "$X11" -eq 1 ]; then
    say "installing ${X11_PACKAGES[*]} (--x11)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${X11_PACKAGES[@]}" >/dev/null
  fi
}

install_x11() {  # X11 or the console: the xinit drop-in and Xorg's lockdown snippet, or their removal
  local was_x11=0
  [ -e "$(at "$X11_DROPIN")" ] && was_x11=1
  remove_old_xwrapper
  if [ "$X11" -eq 1 ]; then
    put_file "$HERE/systemd/x11.conf" "$(at "$X11_DROPIN")" 0644
    put_file "$HERE/kiosk/xorg-kiosk.conf" "$(at "$XORG_SNIPPET")" 0644
  else
    remove "$X11_DROPIN" "$XORG_SNIPPET"
    rmdir "$(at "$(dirname "$X11_DROPIN")")" 2>/dev/null || true
    [ "$was_x11" -eq 0 ] || say "the kiosk runs on the KMS/DRM console again (no --x11)"
  fi
  # Only on a switch: a rerun in the same mode keeps the technician's ui.input.
  [ "$was_x11" -eq "$X11" ] || input_follows_display
}

remove_old_xwrapper() {  # Xorg runs rootless now: drop the wrapper config that earlier installers wrote
  local wrapper
  wrapper=$(at "$XWRAPPER")
  if [ -f "$wrapper" ] && [ "$(cat "$wrapper")" = "$OLD_XWRAPPER" ]; then
    remove "$XWRAPPER"
  fi
}

input_follows_display() {  # ui.input for the display mode: X11 turns touches into pointer events, the console not
  local config want=touchscreen
  config=$(at /etc/evaluator/config.yaml)
  [ "$X11" -eq 0 ] || want=desktop
  case $(yaml_get "$config" ui input) in
    "$want") ;;
    "") say "warning: no 'input:' under 'ui:' in /etc/evaluator/config.yaml: set ui.input: $want by hand" ;;
    *) yaml_set "$config" ui input "$want"
       say "set ui.input: $want in /etc/evaluator/config.yaml (one input provider per touch device)" ;;
  esac
}

install_lockdown() {  # no login prompt on another VT (Ctrl+Alt+F2…), no Magic SysRq keys
  put_file "$HERE/kiosk/logind-kiosk.conf" "$(at "$LOGIND_DROPIN")" 0644
  put_file "$HERE/kiosk/sysctl-kiosk.conf" "$(at "$SYSCTL_FILE")" 0644
}

install_user() {
  put_file "$HERE/kiosk/sysusers.conf" "$(at /etc/sysusers.d/evaluator.conf)" 0644
  if [ -n "$ROOT" ]; then
    say "user 'evaluator' recorded in /etc/sysusers.d/evaluator.conf (not created: --root)"
    return
  fi
  command -v systemd-sysusers >/dev/null || die "systemd-sysusers is missing (Debian package systemd)"
  systemd-sysusers /etc/sysusers.d/evaluator.conf
  say "user 'evaluator': $(id evaluator)"
}

release_version() {
  if [ -n "$WHEEL" ]; then
    # name-version(-build)?-python-abi-platform.whl
    local base
    base=$(basename "$WHEEL" .whl)
    base=${base#*-}
    printf '%s\n' "${base%%-*}"
    return
  fi
  sed -n 's/^[[:space:]]*version="\([^"]*\)".*/\1/p' "$REPO/setup.py" | head -n 1
}

build_venv() {  # DIR: a virtual environment at DIR with the app installed
  local venv=$1 source
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than Python 3.11"
  rm -rf "$venv"
  say "creating the virtual environment (${PYTHON})"
  "$PYTHON" -m venv "$venv"
  if [ -n "$WHEEL" ]; then
    source=$WHEEL
  else
    # Build from a clean copy: no build/ or egg-info left in the checkout, no dev venv or data copied.
    source=$(make_temp_dir)/src
    mkdir "$source"
    tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build --exclude=./dist \
      --exclude='*.egg-info' --exclude=__pycache__ --exclude=./.hypothesis --exclude=./.ruff_cache \
      --exclude=./.pytest_cache -cf - . | tar -C "$source" -xf -
  fi
  say "installing the app into the venv (pip install ${WHEEL:-$REPO})"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$source"
  if [ -n "$ROOT" ]; then
    # The venv was built at its staging path; on the terminal it lives at the same path without
    # the root prefix. Scripts name their interpreter by absolute path: make them point there.
    local file
    { grep -rlF -- "$venv" "$venv/bin" "$venv/pyvenv.cfg" 2>/dev/null || true; } | while IFS= read -r file; do
      [ -L "$file" ] || sed -i "s|$venv|${venv#"$ROOT"}|g" "$file"
    done
  fi
}

install_app() {
  local version release tmp_link
  version=$(release_version)
  [ -n "$version" ] || die "cannot tell the version (setup.py or the wheel's name)"
  release=$(at "/opt/evaluator/releases/$version")
  install -d -m 0755 "$(at /opt/evaluator)" "$(at /opt/evaluator/releases)"
  if [ "$NO_VENV" -eq 1 ]; then
    install -d -m 0755 "$release"
    say "release $version: no virtual environment (--no-venv)"
  elif [ "$REINSTALL" -eq 0 ] && [ -x "$release/bin/evaluator" ]; then
    say "release $version already installed (--reinstall rebuilds it)"
  else
    build_venv "$release"
    say "release $version installed in /opt/evaluator/releases/$version"
  fi
  # Atomic switch: a new symlink under a temporary name, renamed over the old one.
  tmp_link=$(at "/opt/evaluator/.current.$$")
  ln -sfn "releases/$version" "$tmp_link"
  mv -T "$tmp_link" "$(at /opt/evaluator/current)"
  say "/opt/evaluator/current -> releases/$version"
}

yaml_get() {  # FILE SECTION KEY: the value of "  KEY: VALUE" under "SECTION:", without its comment; empty if none
  awk -v sec="$2" -v key="$3" '
      /^[A-Za-z_][A-Za-z0-9_]*:/ { cur = substr($0, 1, index($0, ":") - 1) }
      cur == sec && index($0, "  " key ":") == 1 {
        value = substr($0, length(key) + 4)
        sub(/[[:space:]]+#.*/, "", value)
        gsub(/^[[:space:]]+|[[:space:]]+$/, "", value)
        print value
        exit
      }' "$1"
}

yaml_set() {  # FILE SECTION KEY VALUE: set "  KEY: VALUE" under "SECTION:", keeping its comment
  local file=$1 section=$2 key=$3 value=$4 tmp
  tmp=$(mktemp "$file.XXXXXX")
  if ! awk -v sec="$section" -v key="$key" -v val="$value" '
      /^[A-Za-z_][A-Za-z0-9_]*:/ { cur = substr($0, 1, index($0, ":") - 1) }
      cur == sec && !done && index($0, "  " key ":") == 1 {
        line = "  " key ": " val
        hash = index($0, " #")
        if (hash) {   # the comment stays in its column, or one space after a longer value
          if (length(line) >= hash) line = line " "
          while (length(line) < hash) line = line " "
          line = line substr($0, hash + 1)
        }
        $0 = line; done = 1
      }
      { print }
      END { exit done ? 0 : 1 }' "$file" >"$tmp"; then
    rm -f "$tmp"
    die "$file: found no '$key:' under '$section:' to set (has config.yaml changed layout?)"
  fi
  # mktemp made the copy 0600: an edited /etc/evaluator/config.yaml must stay readable by the app.
  chmod --reference="$file" "$tmp"
  [ -n "$ROOT" ] || chown --reference="$file" "$tmp"
  mv "$tmp" "$file"
}

install_config() {
  local config tmp
  config=$(at /etc/evaluator/config.yaml)
  install -d -m 0755 "$(at /etc/evaluator)"
  if [ -e "$config" ]; then
    say "kept /etc/evaluator/config.yaml (yours)"
  else
    tmp=$(make_temp_dir)/config.yaml
    {
      echo "# /etc/evaluator/config.yaml, written by deploy/install.sh from the repo's config.yaml"
      echo "# with the system paths and full-screen kiosk set. Yours now: upgrades keep it."
      cat "$REPO/config.yaml"
    } >"$tmp"
    yaml_set "$tmp" store path /var/lib/evaluator/evaluator.db
    yaml_set "$tmp" sync state_dir /etc/evaluator/secrets
    yaml_set "$tmp" ui fullscreen true
    yaml_set "$tmp" ui kiosk true
    if [ "$X11" -eq 1 ]; then
      yaml_set "$tmp" ui input desktop        # X11 already turns each touch into pointer events
    else
      yaml_set "$tmp" ui input touchscreen
    fi
    put_file "$tmp" "$config" 0644
  fi
  # Earlier installers wrote a Kivy config.ini here, which Kivy never read: the app sets KIVY_NO_CONFIG
  # (kiosk/ui/boot.py) and takes input, cursor and Escape from config.yaml. Left there, it misleads.
  if [ -e "$(at "$KIVY_CONFIG")" ]; then
    remove "$KIVY_CONFIG"
    say "(Kivy never read it: the input settings are ui.input in /etc/evaluator/config.yaml)"
  fi
}

apply_tmpfiles() {  # create the folders of tmpfiles.conf with their modes; owners only on a live system
  put_file "$HERE/kiosk/tmpfiles.conf" "$(at /etc/tmpfiles.d/evaluator.conf)" 0644
  local type path mode user group _rest
  while read -r type path mode user group _rest; do
    [ "$type" = d ] || continue
    install -d -m "$mode" "$(at "$path")"
    [ -n "$ROOT" ] || chown "$user:$group" "$path"
  done < <(grep -v '^[[:space:]]*\(#\|$\)' "$HERE/kiosk/tmpfiles.conf")
  if [ -n "$ROOT" ]; then
    say "folders made with their modes; owners recorded in /etc/tmpfiles.d/evaluator.conf (--root)"
  else
    say "folders made with their owners and modes (/etc/tmpfiles.d/evaluator.conf)"
  fi
}

systemd_version() {  # of the system being installed; 0 when unknown
  if [ -z "$ROOT" ]; then
    systemctl --version 2>/dev/null | awk 'NR == 1 { print $2 + 0; found = 1 } END { if (!found) print 0 }'
    return
  fi
  local lib version
  for lib in "$ROOT"/usr/lib/systemd/libsystemd-shared-*.so "$ROOT"/usr/lib/*/systemd/libsystemd-shared-*.so; do
    [ -e "$lib" ] || continue
    version=${lib##*/libsystemd-shared-}
    printf '%s\n' "${version%%[!0-9]*}"
    return
  done
  echo 0
}

wanted_by() {  # UNIT_FILE: the targets of its [Install] WantedBy=
  sed -n '/^\[Install\]/,/^\[/ s/^WantedBy=//p' "$1" | tr ' ' '\n' | sed '/^$/d'
}

install_units() {
  local unit target version dropin
  for unit in "${UNITS[@]}"; do
    put_file "$HERE/systemd/$unit" "$(at "/etc/systemd/system/$unit")" 0644
  done
  version=$(systemd_version)
  dropin=$(at /etc/systemd/system/evaluator-sync.service.d/restart-backoff.conf)
  if [ "$version" -ge "$BACKOFF_MIN_SYSTEMD" ]; then
    put_file "$HERE/systemd/restart-backoff.conf" "$dropin" 0644
  else
    rm -f "$dropin"
    [ "$version" -gt 0 ] || version=unknown
    say "systemd $version: evaluator-sync restarts 30 s after an exit (a backoff from 5 s to 5 min needs systemd >= $BACKOFF_MIN_SYSTEMD)"
  fi
  for unit in "${UNITS[@]}"; do
    if [ -n "$ROOT" ]; then
      while IFS= read -r target; do
        install -d -m 0755 "$(at "/etc/systemd/system/$target.wants")"
        ln -sfn "/etc/systemd/system/$unit" "$(at "/etc/systemd/system/$target.wants/$unit")"
        say "enabled $unit ($target.wants)"
      done < <(wanted_by "$HERE/systemd/$unit")
    else
      systemctl enable --quiet "$unit"
      say "enabled $unit"
    fi
  done
}

udev_rule_line() {
  local match="ATTRS{idVendor}==\"$1\", ATTRS{idProduct}==\"$2\""
  [ -z "$3" ] || match="$match, ATTRS{serial}==\"$3\""
  printf 'SUBSYSTEM=="tty", %s, SYMLINK+="evaluator-panel", GROUP="dialout", MODE="0660", ENV{ID_MM_DEVICE_IGNORE}="1"\n' "$match"
}

install_udev() {
  local rule tmp
  rule=$(at "$UDEV_RULE")
  if [ -n "$PANEL_VENDOR" ]; then
    tmp=$(make_temp_dir)/rule
    {
      echo "$SPECIFIC_MARK, written by deploy/install.sh --panel-vendor $PANEL_VENDOR --panel-product $PANEL_PRODUCT${PANEL_SERIAL:+ --panel-serial $PANEL_SERIAL}"
      echo "# The panel's serial port as /dev/evaluator-panel; the generic per-chip rules: deploy/udev/."
      udev_rule_line "$PANEL_VENDOR" "$PANEL_PRODUCT" "$PANEL_SERIAL"
    } >"$tmp"
    put_file "$tmp" "$rule" 0644
  elif [ -f "$rule" ] && grep -qF "$SPECIFIC_MARK" "$rule"; then
    say "kept the panel-specific udev rule (--panel-vendor/--panel-product replace it)"
  else
    put_file "$HERE/udev/99-evaluator-panel.rules" "$rule" 0644
  fi
  put_file "$HERE/udev/99-evaluator-backlight.rules" "$(at "$BACKLIGHT_RULE")" 0644
}

console_blank_off() {
  local cmdline
  cmdline=$(at "$CMDLINE")
  if [ -f "$cmdline" ]; then
    if grep -qE '(^|[[:space:]])consoleblank=0([[:space:]]|$)' "$cmdline"; then
      say "console blanking already off ($CMDLINE)"
    else
      [ -e "$cmdline.evaluator-orig" ] || cp -p "$cmdline" "$cmdline.evaluator-orig"
      sed -i -E '1 { s/(^|[[:space:]]+)consoleblank=[^[:space:]]*//g; s/[[:space:]]*$/ consoleblank=0/ }' "$cmdline"
      say "console blanking off: consoleblank=0 added to $CMDLINE (from the next boot)"
    fi
  else
    put_file "$HERE/kiosk/grub-evaluator.cfg" "$(at "$GRUB_DROPIN")" 0644
    if [ -n "$ROOT" ]; then
      say "console blanking off from the image's next update-grub ($GRUB_DROPIN)"
    elif command -v update-grub >/dev/null; then
      update-grub >/dev/null 2>&1 || say "warning: update-grub failed; run it by hand"
      say "console blanking off from the next boot (update-grub done)"
    else
      say "no $CMDLINE and no update-grub: add consoleblank=0 to the kernel command line by hand"
    fi
  fi
}

activate() {  # live system only: reload what changed, restart what runs
  [ -z "$ROOT" ] || return 0
  if command -v udevadm >/dev/null; then
    udevadm control --reload-rules 2>/dev/null || true
    udevadm trigger --subsystem-match=tty --action=change 2>/dev/null || true
    udevadm trigger --subsystem-match=backlight --action=change 2>/dev/null || true
  fi
  if command -v sysctl >/dev/null && sysctl -q -p "$SYSCTL_FILE" 2>/dev/null; then
    say "Magic SysRq keys off ($SYSCTL_FILE)"
  fi
  say "no login prompts on other VTs from the next boot ($LOGIND_DROPIN: logind reads it at start)"
  if systemd_running; then
    systemctl daemon-reload
    systemctl try-restart "${UNITS[@]}"
    say "systemd reloaded; running evaluator services restarted"
  else
    say "systemd is not running here (chroot or container): units take effect at boot"
  fi
}

do_install() {
  say "installing the satisfaction evaluator${ROOT:+ into the staging root $ROOT}"
  install_packages
  install_user
  install_app
  install_config
  install_units
  install_x11
  install_lockdown
  install_udev
  console_blank_off
  apply_tmpfiles
  activate
  say "done. Next: edit /etc/evaluator/config.yaml, plug the panel, enroll; see docs/operator-guide.md"
  if [ -z "$ROOT" ]; then
    say "start now with 'systemctl start evaluator-kiosk evaluator-sync' (takes over tty1) or reboot"
  else
    say "in the image: systemd-sysusers --root=$ROOT evaluator.conf && systemd-tmpfiles --root=$ROOT --create evaluator.conf"
  fi
}

# -- uninstall --------------------------------------------------------------------

remove() {  # PATH…: rm -rf inside the root, saying what went
  local path
  for path in "$@"; do
    if [ -e "$(at "$path")" ] || [ -L "$(at "$path")" ]; then
      rm -rf "$(at "$path")"
      say "removed $path"
    fi
  done
}

console_blank_restore() {
  local cmdline
  cmdline=$(at "$CMDLINE")
  if [ -f "$cmdline.evaluator-orig" ]; then
    sed -i -E '1 s/[[:space:]]+consoleblank=0([[:space:]]|$)/\1/' "$cmdline"
    rm -f "$cmdline.evaluator-orig"
    say "consoleblank=0 taken out of $CMDLINE"
  fi
  if [ -e "$(at "$GRUB_DROPIN")" ]; then
    remove "$GRUB_DROPIN"
    if [ -z "$ROOT" ] && command -v update-grub >/dev/null; then
      update-grub >/dev/null 2>&1 || say "warning: update-grub failed; run it by hand"
    fi
  fi
}

do_uninstall() {
  local unit link
  say "uninstalling the satisfaction evaluator${ROOT:+ from the staging root $ROOT}"
  if [ -z "$ROOT" ] && command -v systemctl >/dev/null; then
    for unit in "${UNITS[@]}"; do
      [ -e "/etc/systemd/system/$unit" ] || continue
      if systemd_running; then
        systemctl stop "$unit" 2>/dev/null || true
      fi
      systemctl disable --quiet "$unit" 2>/dev/null || true
      say "stopped and disabled $unit"
    done
  fi
  for unit in "${UNITS[@]}"; do
    for link in "$(at /etc/systemd/system)"/*.wants/"$unit"; do
      [ -L "$link" ] || continue
      rm -f "$link"
      say "disabled $unit (${link#"$(at /etc/systemd/system)/"})"
    done
    remove "/etc/systemd/system/$unit"
  done
  remove /etc/systemd/system/evaluator-sync.service.d/restart-backoff.conf "$X11_DROPIN" "$XORG_SNIPPET"
  remove_old_xwrapper
  remove "$LOGIND_DROPIN" "$SYSCTL_FILE"
  remove "$UDEV_RULE" "$BACKLIGHT_RULE" /opt/evaluator
  console_blank_restore
  if [ "$PURGE" -eq 1 ]; then
    remove /etc/systemd/system/evaluator-kiosk.service.d /etc/systemd/system/evaluator-sync.service.d
    remove /var/lib/evaluator /etc/evaluator /etc/tmpfiles.d/evaluator.conf /etc/sysusers.d/evaluator.conf
    if [ -z "$ROOT" ] && id evaluator >/dev/null 2>&1; then
      userdel evaluator
      say "removed user evaluator"
    fi
  else
    rmdir "$(at /etc/systemd/system/evaluator-sync.service.d)" "$(at /etc/systemd/system/evaluator-kiosk.service.d)" \
      2>/dev/null || true
    say "kept /etc/evaluator (config, device key) and /var/lib/evaluator (the ratings): --purge removes them"
  fi
  if systemd_running; then
    systemctl daemon-reload
  fi
  if [ -z "$ROOT" ] && command -v udevadm >/dev/null; then
    udevadm control --reload-rules 2>/dev/null || true
  fi
  say "done"
}

main() {
  parse_args "$@"
  if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3   # Debian's: readable by the evaluator user
  fi
  if [ "$UNINSTALL" -eq 1 ]; then
    do_uninstall
  else
    do_install
  fi
}

main "$@"
