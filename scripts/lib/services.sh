# Sourced by scripts/run and scripts/test: make sure PostgreSQL (and, with `ensure_services nats`,
# NATS with JetStream) answer on 127.0.0.1, starting them if they are down. With a working Docker
# engine, compose.yaml starts them; otherwise the machine's own packages do (installed if missing).
# One node needs only PostgreSQL (the in-process bus); the tests also run Prism over NATS.

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

wait_for() { # name check-fn
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "error: $1 did not come up on 127.0.0.1" >&2; return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_services() { # [nats]
  local want_nats=""; [ "${1:-}" = nats ] && want_nats=1
  if pg_up && { [ -z "$want_nats" ] || nats_up; }; then return 0; fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo "starting postgres (docker compose)${want_nats:+ and a development nats (docker)}" >&2
    pg_up || docker compose up -d postgres
    # compose.yaml's NATS has accounts; a developer's and the tests' NATS is open on loopback.
    if [ -n "$want_nats" ] && ! nats_up; then
      docker run -d --rm --name prism-nats-dev -p 127.0.0.1:4222:4222 nats:2.10 -js >/dev/null
    fi
  else
    if ! pg_up; then
      if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "installing postgresql" >&2
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      fi
      echo "starting postgresql" >&2
      for v in $(ls /etc/postgresql); do as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
    fi
    if [ -n "$want_nats" ] && ! nats_up; then
      if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
        echo "installing nats-server" >&2
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
      fi
      echo "starting nats-server (jetstream)" >&2
      bin=$(command -v nats-server || echo /usr/sbin/nats-server)
      as_root mkdir -p /var/lib/nats-server
      as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    fi
  fi
  wait_for postgresql pg_up
  if [ -n "$want_nats" ]; then wait_for nats nats_up; fi
}
