# Sourced by scripts/test after services.sh: `ensure_s3` gives the tests an S3-compatible server
# (moto in server mode) and exports PRISM_TEST_S3_URL. With PRISM_TEST_S3_URL already set, that
# server is used and nothing is started. Otherwise moto is installed once into a virtual
# environment under target/test-venv (reused by later runs), started on a free port of
# 127.0.0.1, and stopped when the calling script exits. moto accepts any credentials and keeps
# its buckets in memory: each run starts empty, and the tests create the buckets they use.

# moto for S3; duckdb reads Parquet exports back, independently of Prism's writer;
# schemathesis fuzzes both APIs from their OpenAPI documents; openapi-python-client generates
# a client from them for the walk-through.
S3_MOTO_REQUIREMENT='moto[server]==5.2.5 duckdb==1.1.3 schemathesis==4.32.5 openapi-python-client==0.29.1'

s3_venv_dir() { echo "${PRISM_TEST_VENV:-$PWD/target/test-venv}"; }

# Creates the virtual environment (installing Debian's python3-venv if the venv module cannot
# make one), then installs moto into it unless this exact requirement is already installed.
s3_ensure_venv() {
  local venv stamp; venv=$(s3_venv_dir); stamp="$venv/.moto-requirement"
  if [ -x "$venv/bin/moto_server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$S3_MOTO_REQUIREMENT" ]; then
    return 0
  fi
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"; mkdir -p "$(dirname "$venv")"
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      if command -v apt-get >/dev/null 2>&1; then
        # python3-venv is Debian's default-version package; python3.X-venv matches this python3.
        local pyv; pyv=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
        echo "installing python3-venv" >&2
        # A failure here is reported below, after the virtualenv fallback.
        as_root apt-get update -qq || true
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null || true
        if [ -n "$pyv" ]; then
          as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$pyv-venv" >/dev/null 2>&1 || true
        fi
      fi
      if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        # Last resort: virtualenv, where the machine's Python has it.
        if ! python3 -m virtualenv -q "$venv" >/dev/null 2>&1; then
          rm -rf "$venv"
          echo "error: cannot create a Python virtual environment at $venv (need python3 with venv, e.g. apt-get install python3-venv); or set PRISM_TEST_S3_URL to an S3 server" >&2
          return 1
        fi
      fi
    fi
  fi
  echo "installing $S3_MOTO_REQUIREMENT into $venv" >&2
  rm -f "$stamp"
  # shellcheck disable=SC2086 # the requirement is a list of packages
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $S3_MOTO_REQUIREMENT || {
    echo "error: pip could not install $S3_MOTO_REQUIREMENT into $venv" >&2; return 1
  }
  echo "$S3_MOTO_REQUIREMENT" >"$stamp"
}

# True once the server at 127.0.0.1:$1 answers an HTTP request (any status).
s3_http_up() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&3 || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  case "$line" in HTTP/*) exit 0 ;; *) exit 1 ;; esac
) 2>/dev/null

S3_MOTO_PID=""

# Stops the moto server this script started (by its process id; nothing else).
stop_s3() {
  [ -n "$S3_MOTO_PID" ] || return 0
  local pid=$S3_MOTO_PID; S3_MOTO_PID=""
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

ensure_s3() {
  s3_ensure_venv
  # The tests' Python (with duckdb), for checks by a reader that is not Prism's.
  export PRISM_TEST_PYTHON="${PRISM_TEST_PYTHON:-$(s3_venv_dir)/bin/python}"
  if [ -n "${PRISM_TEST_S3_URL:-}" ]; then export PRISM_TEST_S3_URL; return 0; fi
  local venv log port attempt; venv=$(s3_venv_dir); log="$venv/moto-server.log"
  # Chain onto any EXIT trap the caller already has rather than replacing it.
  local prev=""; eval "set -- $(trap -p EXIT)"; [ $# -ge 3 ] && prev=$3
  trap "stop_s3${prev:+; $prev}" EXIT
  for attempt in 1 2 3; do
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "starting moto s3 server on 127.0.0.1:$port (log: $log)" >&2
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
    S3_MOTO_PID=$!
    for _ in $(seq 1 100); do # up to ~30 s
      if s3_http_up "$port"; then
        export PRISM_TEST_S3_URL="http://127.0.0.1:$port"
        return 0
      fi
      kill -0 "$S3_MOTO_PID" 2>/dev/null || break # died (e.g. the port was taken meanwhile)
      sleep 0.3
    done
    # Only a server that exited is retried (on a new port); one that hangs is given up on.
    if kill -0 "$S3_MOTO_PID" 2>/dev/null; then stop_s3; break; fi
    stop_s3
  done
  echo "error: the moto s3 server did not answer HTTP on 127.0.0.1:$port; its log ($log):" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}
