#!/usr/bin/env bash
# Sets up this machine (scripts/setup.sh) and runs the gateway with the embedded development Kafka.
# Open http://127.0.0.1:5080/ for the test page. Arguments go to the gateway, e.g.
#   scripts/run.sh --urls http://127.0.0.1:6000 --Ingest:Kafka:BootstrapServers=broker:9092
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT/src/Ingest.Gateway"
# The process environment every way of starting the gateway shares (deploy/gateway.env): KEY=value
# lines; a preload library that is not installed is reported and left out.
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
  key=${line%%=*} value=${line#*=}
  if [[ "$key" == LD_PRELOAD && ! -e "$value" ]]; then
    echo "[ingest] deploy/gateway.env: $value is not installed; LD_PRELOAD left out" >&2
    continue
  fi
  export "$key=$value"
done < "$ROOT/deploy/gateway.env"
# A development run: readable log lines (appsettings.Development.json) unless an environment is named.
if [[ -z "${ASPNETCORE_ENVIRONMENT:-}${DOTNET_ENVIRONMENT:-}" ]]; then
  export ASPNETCORE_ENVIRONMENT=Development
fi
# The connection limits follow the descriptor limit (docs/operations.md, "Limits"): use all we may.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# setup.sh built the gateway (Release) and proved that librdkafka loads.
exec dotnet run -c Release --no-build --no-launch-profile -- "$@"
