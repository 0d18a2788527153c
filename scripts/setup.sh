#!/usr/bin/env bash
# Installs what Ingest needs on a fresh Debian machine with the .NET SDK, restores, builds the
# gateway and proves that the librdkafka native library loads (printing its version and file).
# Idempotent and cached: a second run only checks and returns in seconds.
#   scripts/setup.sh [--tests]     --tests also installs what the test suite needs (Chromium, yamllint, docker-compose)
#   INGEST_LIBRDKAFKA=auto|registry|local   where librdkafka comes from (scripts/lib/librdkafka.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$ROOT/scripts/lib/common.sh"
# shellcheck source=scripts/lib/librdkafka.sh
. "$ROOT/scripts/lib/librdkafka.sh"

want_tests=false
for arg in "$@"; do
  case "$arg" in
    --tests) want_tests=true ;;
    *) die "unknown option $arg" ;;
  esac
done

command -v dotnet >/dev/null || die "the .NET SDK 10 is required (dotnet on PATH)"
command -v npm >/dev/null || die "Node.js with npm is required (to fetch the librdkafka source where NuGet lacks it)"

# Runtime libraries that a locally built librdkafka links against (present on most Debian installs).
ensure_apt_packages libssl3 zlib1g libzstd1 liblz4-1
if $want_tests; then
  # The browser tests (tests/Ingest.BrowserTests) drive Debian's Chromium through Playwright;
  # Playwright's own browser download needs the internet, so it is never used. The deploy tests
  # (tests/*/Deploy) lint every YAML file and render docker-compose.yml with Debian's yamllint and
  # docker-compose (the v1 tool: it parses and validates without a Docker engine), and render the
  # Kubernetes overlays with kubectl, which the machine image brings (Debian has no kubectl).
  ensure_apt_packages chromium yamllint docker-compose
  command -v kubectl >/dev/null \
    || log "kubectl is not installed: the deploy tests that render deploy/kubernetes will fail"
fi
mkdir -p "$ROOT/.cache/nuget-feed"

restore_and_build() {
  # Restore again when a project file changed or the librdkafka source switched.
  local stamp="$ROOT/.cache/restore.stamp" key
  key="librdkafka: $(cat "$ROOT/.cache/librdkafka.props" 2>/dev/null || echo registry)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$key" ] \
      || [ -n "$(find "$ROOT" -name '*.csproj' -newer "$stamp" -o -name 'Directory.*.props' -newer "$stamp" -o -name NuGet.config -newer "$stamp" | head -1)" ]; then
    log "restoring NuGet packages"
    dotnet restore "$ROOT/Ingest.sln" --nologo -v quiet || die "dotnet restore failed"
    printf '%s\n' "$key" >"$stamp"
  fi
  local out
  out=$(dotnet build "$ROOT/src/Ingest.Gateway/Ingest.Gateway.csproj" -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly 2>&1) \
    || { printf '%s\n' "$out" >&2; die "building the gateway failed"; }
}

source=$(ensure_librdkafka "$ROOT")
restore_and_build
if ! librdkafka_check "$ROOT"; then
  if [ "$source" = registry ] && [ "${INGEST_LIBRDKAFKA:-auto}" = auto ]; then
    librdkafka_fall_back_to_local "$ROOT"
    source=$(ensure_librdkafka "$ROOT")
    restore_and_build
    librdkafka_check "$ROOT" || die "librdkafka does not load even when built on this machine (above)"
  else
    die "librdkafka does not load (above)"
  fi
fi
