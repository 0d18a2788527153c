#!/usr/bin/env bash
# docker-compose.yml's one-shot topic creation, run in the apache/kafka image. It adapts to the
# profile: the cluster profile's brokers (kafka-2, kafka-3) are in Docker's DNS only when that
# profile runs, so 1 broker means one replica, 3 brokers mean three replicas with
# min.insync.replicas=2 (an acks=all write survives one broker down). It waits until that many
# brokers are registered, creates events and events.dlq if missing, and fails when a topic exists
# with another replication factor (left from the other profile: `docker-compose down` clears it).
set -euo pipefail
bin=/opt/kafka/bin
bootstrap=kafka:9092
partitions=8
log() { printf 'create-topics: %s\n' "$*" >&2; }

brokers=1
for host in kafka-2 kafka-3; do
  if getent hosts "$host" > /dev/null; then brokers=$((brokers + 1)); fi
done
case $brokers in
  1) replication=1 min_insync=1 ;;
  3) replication=3 min_insync=2 ;;
  *) log "$brokers brokers resolve; expected 1 (default) or 3 (--profile cluster)"; exit 1 ;;
esac

log "waiting for $brokers broker(s) at $bootstrap"
deadline=$((SECONDS + 180))
until [ "$("$bin/kafka-broker-api-versions.sh" --bootstrap-server "$bootstrap" 2> /dev/null | grep -c '(id: ')" -ge "$brokers" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "fewer than $brokers brokers registered within 180 s"
    exit 1
  fi
  sleep 2
done

for topic in events events.dlq; do
  # max.message.bytes: a 1 MiB event plus key and headers (Ingest:WebSocket:MaxMessageBytes).
  "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$topic" \
    --partitions "$partitions" --replication-factor "$replication" \
    --config min.insync.replicas="$min_insync" --config max.message.bytes=2097152
  actual=$("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --topic "$topic" \
    | sed -n 's/.*ReplicationFactor: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
  if [ "$actual" != "$replication" ]; then
    log "$topic has replication factor ${actual:-unknown}; this profile wants $replication. 'docker-compose down' removes the brokers of the other profile and their topics"
    exit 1
  fi
  log "$topic: $partitions partitions, replication factor $replication, min.insync.replicas=$min_insync"
done
