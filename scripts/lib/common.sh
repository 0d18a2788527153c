# shellcheck shell=bash
# Small helpers shared by the setup, run and test scripts.

log() { printf '[ingest] %s\n' "$*" >&2; }
die() { printf '[ingest] error: %s\n' "$*" >&2; exit 1; }

# Installs the named Debian packages that are not installed yet; runs apt-get update at most once.
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  if [ -z "${INGEST_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    export INGEST_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}
