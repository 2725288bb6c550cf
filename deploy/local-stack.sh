#!/usr/bin/env bash
# Runs the five NexPay services as local processes, without Docker, against your own
# PostgreSQL, RabbitMQ and Redis. Ctrl-C stops them all.
#
#   ./deploy/local-stack.sh
#
# Defaults (override any of them in the environment):
#   DATABASE_URL  postgres://postgres@127.0.0.1:5432/nexpay   (created if missing)
#   AMQP_URL      amqp://guest:guest@127.0.0.1:5672/%2f
#   REDIS_URL     redis://127.0.0.1:6379/0
#   NEXPAY_DATA_DIR ./data/local-stack  (dev secrets, first-start credentials, logs)
# Ports: dashboard 9090, gateway 8081, payments 8082, provider-adapter 8083,
# webhook-dispatcher 8084, sandbox (the provider simulators) 8085. Without Traefik in front, the merchant API is on the
# gateway's port: http://localhost:8081/api/v1/...
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/nexpay}"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export NEXPAY_DATA_DIR="${NEXPAY_DATA_DIR:-./data/local-stack}"
export PUBLIC_URL="${PUBLIC_URL:-http://localhost:9090}"
export HOST="${HOST:-127.0.0.1}"
# Test mode: provider-adapter reaches the simulators on the sandbox's port, and they send
# their webhooks straight to provider-adapter (Traefik routes both in production).
export SANDBOX_URL="${SANDBOX_URL:-http://localhost:8085}"
export SANDBOX_CALLBACK_URL="${SANDBOX_CALLBACK_URL:-http://127.0.0.1:8083}"
bin="${CARGO_TARGET_DIR:-target}/release"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release -p nexpay-standalone -p nexpay-gateway -p nexpay-payments \
        -p nexpay-provider-adapter -p nexpay-webhook-dispatcher -p nexpay-dashboard \
        -p nexpay-sandbox-service
fi

# Create the database when psql can (the services apply the migrations themselves).
if command -v psql >/dev/null 2>&1; then
    db="${DATABASE_URL##*/}"
    db="${db%%\?*}"
    admin="${DATABASE_URL%/*}/postgres"
    if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
        psql "$admin" -qc "CREATE DATABASE \"$db\"" && echo "created database $db"
    fi
fi

mkdir -p "$NEXPAY_DATA_DIR/logs"
# Generates the development secrets once, so every service reads the same ones.
"$bin/nexpay" migrate

pids=()
stop() {
    trap - INT TERM EXIT
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

start() { # service port
    PORT="$2" "$bin/nexpay-$1" >"$NEXPAY_DATA_DIR/logs/$1.log" 2>&1 &
    pids+=("$!")
}
# The payer pages' links name the sandbox's own port.
PUBLIC_URL="$SANDBOX_URL" start sandbox 8085
start dashboard 9090
start payments 8082
start provider-adapter 8083
start webhook-dispatcher 8084
start gateway 8081

for port in 9090 8082 8083 8084 8081 8085; do
    "$bin/nexpay" health --url "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 || {
        for _ in $(seq 1 300); do
            "$bin/nexpay" health --url "http://127.0.0.1:$port/health/ready" && break
            sleep 0.2
        done
    }
    "$bin/nexpay" health --url "http://127.0.0.1:$port/health/ready" || {
        echo "the service on port $port did not become ready; logs in $NEXPAY_DATA_DIR/logs" >&2
        exit 1
    }
done
echo "NexPay is running: API http://localhost:8081/api/v1, dashboard http://localhost:9090"
if [ -f "$NEXPAY_DATA_DIR/first-start-credentials.txt" ]; then
    echo "first-start keys and admin login: $NEXPAY_DATA_DIR/first-start-credentials.txt"
fi
echo "logs: $NEXPAY_DATA_DIR/logs; Ctrl-C stops everything"
wait
