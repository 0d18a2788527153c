#!/usr/bin/env bash
# Installs what Ingest needs on a fresh Debian machine with the .NET SDK, then restores and builds.
# Idempotent and cached: a second run only checks and returns in seconds.
#   scripts/setup.sh [--tests]     --tests also installs what the test suite needs (Chromium)
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

# Runtime libraries that librdkafka links against (present on most Debian installs already).
ensure_apt_packages libssl3 zlib1g libzstd1 liblz4-1
if $want_tests; then
  # The browser tests (tests/Ingest.BrowserTests) drive Debian's Chromium through Playwright;
  # Playwright's own browser download needs the internet, so it is never used.
  ensure_apt_packages chromium
fi
mkdir -p "$ROOT/.cache/nuget-feed"
ensure_librdkafka "$ROOT"

stamp="$ROOT/.cache/restore.stamp"
if [ ! -f "$stamp" ] || [ -n "$(find "$ROOT" -name '*.csproj' -newer "$stamp" -o -name 'Directory.*.props' -newer "$stamp" -o -name NuGet.config -newer "$stamp" | head -1)" ]; then
  log "restoring NuGet packages"
  dotnet restore "$ROOT/Ingest.sln" --nologo -v quiet || die "dotnet restore failed"
  touch "$stamp"
fi
