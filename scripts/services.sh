#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 if they are down (installing them if missing),
# so `make test` works on a fresh machine. Idempotent.
set -euo pipefail

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "need root to install $*" >&2; return 1; fi
  if [ ! -f /tmp/.lr-apt-updated ]; then apt-get update -qq && touch /tmp/.lr-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
fi

# Headless Chromium for the end-to-end test (Debian's package; no browser download).
if ! command -v chromium >/dev/null; then apt_install chromium; fi
# pdftotext, for reading the handover PDF the way a person's tools would.
if ! command -v pdftotext >/dev/null; then apt_install poppler-utils; fi
# wrk, the load generator benchmarks/p95_probe.py measures our probe against.
if ! command -v wrk >/dev/null; then apt_install wrk; fi
# WeasyPrint's system libraries.
if ! ldconfig -p | grep -q libpango-1.0; then apt_install libpango-1.0-0 libpangoft2-1.0-0; fi
echo "services: PostgreSQL and Redis up on 127.0.0.1"
