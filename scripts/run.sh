#!/usr/bin/env bash
# Sets up this machine (scripts/setup.sh) and runs the gateway with the embedded development Kafka.
# Open http://127.0.0.1:5080/ for the test page. Arguments go to the gateway, e.g.
#   scripts/run.sh --urls http://127.0.0.1:6000 --Ingest:Kafka:BootstrapServers=broker:9092
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT/src/Ingest.Gateway"
# The connection limits follow the descriptor limit (docs/operations.md, "Limits"): use all we may.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# setup.sh built the gateway (Release) and proved that librdkafka loads.
exec dotnet run -c Release --no-build --no-launch-profile -- "$@"
