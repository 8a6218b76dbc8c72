#!/usr/bin/env bash
# Runs one Firestore emulator for a whole CI run, so every Go test package
# shares it instead of starting its own (internal/firestoretest does that
# only when FIRESTORE_EMULATOR_HOST is unset).
#
#   eval "$(bash .ci/firestore-emulator.sh start)"   # prints export FIRESTORE_EMULATOR_HOST=…
#   go test ./...
#   bash .ci/firestore-emulator.sh stop
#
# Needs gcloud with the Firestore emulator component and Java 17+.
# FIRESTORE_EMULATOR_PORT picks the port (default: the first free one from
# 8681); EMULATOR_STATE_DIR holds the pid and log files (default: /tmp).
set -euo pipefail

state_dir=${EMULATOR_STATE_DIR:-${TMPDIR:-/tmp}}
pid_file=$state_dir/experthub-firestore-emulator.pid
host_file=$state_dir/experthub-firestore-emulator.host
log_file=$state_dir/experthub-firestore-emulator.log
timeout=${FIRESTORE_EMULATOR_TIMEOUT:-90}

die() { echo "firestore-emulator: $*" >&2; exit 1; }

ready() { curl -fs -o /dev/null --max-time 1 "http://$1/"; }

running() { [[ -s $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if running && ready "$(cat "$host_file")"; then
    echo "export FIRESTORE_EMULATOR_HOST=$(cat "$host_file")"
    return
  fi
  command -v gcloud >/dev/null || die "gcloud not on PATH: apt-get install google-cloud-cli google-cloud-cli-firestore-emulator (Google's Cloud SDK repository) and Java 17+"
  command -v java >/dev/null || die "java not on PATH: the emulator needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  command -v curl >/dev/null || die "curl not on PATH"

  local port=${FIRESTORE_EMULATOR_PORT:-}
  if [[ -z $port ]]; then
    for port in $(seq 8681 8780); do port_free "$port" && break; done
  fi
  port_free "$port" || die "port $port is in use"
  local host=127.0.0.1:$port

  mkdir -p "$state_dir"
  # setsid: the emulator (gcloud → bash → java) gets a process group of
  # its own, which stop kills whole.
  setsid gcloud emulators firestore start --host-port="$host" >"$log_file" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"
  echo "$host" >"$host_file"

  local deadline=$((SECONDS + timeout))
  until ready "$host"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log_file" >&2
      die "the emulator exited before it was ready"
    fi
    if ((SECONDS >= deadline)); then
      cat "$log_file" >&2
      stop
      die "the emulator was not ready after ${timeout}s"
    fi
    sleep 0.2
  done
  echo "firestore-emulator: ready at $host (pid $pid, log $log_file)" >&2
  echo "export FIRESTORE_EMULATOR_HOST=$host"
}

stop() {
  [[ -s $pid_file ]] || return 0
  local pid
  pid=$(cat "$pid_file")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pid_file" "$host_file"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
