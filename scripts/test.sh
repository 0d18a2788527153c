#!/usr/bin/env bash
# Sets up this machine (scripts/setup.sh --tests), builds, and runs every test project.
# Ends with one line "N passed, M failed"; exits non-zero when a test failed or nothing ran.
#   scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Parser]
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib/common.sh"
bash "$ROOT/scripts/setup.sh" --tests || exit 1

dotnet build "$ROOT/Ingest.sln" -c Release --nologo -v quiet -clp:ErrorsOnly || die "build failed"

results="$ROOT/.cache/test-results"
rm -rf "$results"
# Files tests leave for people (the browser tests' screenshots) go next to the .trx files.
export INGEST_TEST_ARTIFACTS="$results"
dotnet test "$ROOT/Ingest.sln" -c Release --no-build --nologo \
  --results-directory "$results" --logger "trx" --logger "console;verbosity=normal" "$@"
rc=$?

passed=0 failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
done
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner failed outside any test (crash, build or discovery error)
fi
for shot in "$results"/screenshots/*.png; do
  [ -f "$shot" ] && log "screenshot: $shot"
done
# The failed tests again, last, where a log cut to its tail still shows them.
for trx in "$results"/*.trx; do
  [ -f "$trx" ] && awk -f "$ROOT/scripts/lib/failures.awk" "$trx"
done
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$passed" -gt 0 ]
