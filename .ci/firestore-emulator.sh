#!/usr/bin/env bash
# Runs one Firestore emulator for a whole CI run, so every Go test package
# shares it instead of starting its own (internal/firestoretest does that
# only when FIRESTORE_EMULATOR_HOST is unset).
#
#   eval "$(bash .ci/firestore-emulator.sh start)"   # exports FIRESTORE_EMULATOR_HOST and EMULATOR_STATE_DIR
#   go test ./...
#   bash .ci/firestore-emulator.sh stop              # the emulator EMULATOR_STATE_DIR names
#
# Each start without EMULATOR_STATE_DIR makes a state folder of its own
# (mktemp -d) for the emulator's pid, address and log, and exports its
# path, so two runs on one machine never share, or stop, each other's
# emulator; stop removes that folder. With EMULATOR_STATE_DIR set, start
# uses (and keeps) that folder, and reuses the emulator already running
# from it. Needs gcloud with the Firestore emulator component and Java 21
# (17 runs, but the emulator warns that its support ends).
# FIRESTORE_EMULATOR_PORT picks the port (default: the first free one from
# 8681).
set -euo pipefail

timeout=${FIRESTORE_EMULATOR_TIMEOUT:-90}

die() { echo "firestore-emulator: $*" >&2; exit 1; }

# files dir: the state files of the emulator run from dir.
files() {
  state_dir=$1
  pid_file=$state_dir/experthub-firestore-emulator.pid
  host_file=$state_dir/experthub-firestore-emulator.host
  log_file=$state_dir/experthub-firestore-emulator.log
  owned_file=$state_dir/experthub-firestore-emulator.mktemp
}

ready() { curl -fs -o /dev/null --max-time 1 "http://$1/"; }

running() { [[ -s $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

exports() {
  echo "export FIRESTORE_EMULATOR_HOST=$(cat "$host_file")"
  printf 'export EMULATOR_STATE_DIR=%q\n' "$state_dir"
}

start() {
  if [[ -n ${EMULATOR_STATE_DIR:-} ]]; then
    files "$EMULATOR_STATE_DIR"
    if running && ready "$(cat "$host_file")"; then
      exports
      return
    fi
  fi
  command -v gcloud >/dev/null || die "gcloud not on PATH: apt-get install google-cloud-cli google-cloud-cli-firestore-emulator (Google's Cloud SDK repository) and Java 21"
  command -v java >/dev/null || die "java not on PATH: the emulator needs Java 21 (17 runs, with a warning)"
  command -v curl >/dev/null || die "curl not on PATH"
  if [[ -n ${EMULATOR_STATE_DIR:-} ]]; then
    mkdir -p "$state_dir"
  else
    files "$(mktemp -d "${TMPDIR:-/tmp}/experthub-firestore-emulator.XXXXXX")"
    touch "$owned_file"
  fi

  # A port found free may be taken by another run before our emulator
  # binds it: then ours exits, and the next free port is tried.
  local port=${FIRESTORE_EMULATOR_PORT:-} tries=1 try
  [[ -n $port ]] || tries=5
  for ((try = 1; ; try++)); do
    if [[ -z ${FIRESTORE_EMULATOR_PORT:-} ]]; then
      for port in $(seq 8681 8780); do port_free "$port" && break; done
    fi
    port_free "$port" || { stop; die "port $port is in use"; }
    launch "127.0.0.1:$port" && break
    if ((try >= tries)); then
      cat "$log_file" >&2
      stop
      die "the emulator exited before it was ready"
    fi
  done
  echo "firestore-emulator: ready at $(cat "$host_file") (pid $(cat "$pid_file"), log $log_file)" >&2
  exports
}

# launch host: start the emulator on host and wait until it serves; fails
# if it exits first.
launch() {
  # setsid: the emulator (gcloud → bash → java) gets a process group of
  # its own, which stop kills whole.
  setsid gcloud emulators firestore start --host-port="$1" >"$log_file" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"
  echo "$1" >"$host_file"
  local deadline=$((SECONDS + timeout))
  # Its own log says it runs, not merely the port answering: another
  # run's emulator may hold the port.
  until grep -qs 'Dev App Server is now running' "$log_file" && ready "$1"; do
    kill -0 "$pid" 2>/dev/null || return 1
    if ((SECONDS >= deadline)); then
      cat "$log_file" >&2
      stop
      die "the emulator was not ready after ${timeout}s"
    fi
    sleep 0.2
  done
}

stop() {
  if [[ -z ${state_dir:-} ]]; then
    [[ -n ${EMULATOR_STATE_DIR:-} ]] || die "stop: EMULATOR_STATE_DIR is not set (start exports it): which emulator?"
    files "$EMULATOR_STATE_DIR"
  fi
  if [[ -s $pid_file ]]; then
    local pid
    pid=$(cat "$pid_file")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pid_file" "$host_file"
  fi
  if [[ -e $owned_file ]]; then
    rm -rf -- "$state_dir"
  fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
