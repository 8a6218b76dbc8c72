#!/usr/bin/env bash
# Runs Expert Hub on this machine the way it runs deployed: several
# `experthub serve` instances behind one public URL (a front standing in
# for Cloud Run's), sharing a Firestore emulator and a Cloud Tasks fake,
# with the sandbox Twilio as the Twilio account. Kill an instance and
# watch another one finish its work.
#
#   scripts/local-cluster.sh start [N]   build, start N instances (default 3) and the rest
#   scripts/local-cluster.sh status      what runs where
#   scripts/local-cluster.sh kill I      kill -9 instance I
#   scripts/local-cluster.sh crash       kill -9 the instance that gets the next post-event webhook
#   scripts/local-cluster.sh revive I    start instance I again
#   scripts/local-cluster.sh stop        stop everything start started
#
# LOCAL_CLUSTER_PORT (default 8080) is the front's port; instance I listens
# on it + I, the sandbox on it + 10, the Cloud Tasks fake on it + 11.
# SANDBOX_LATENCY (default 200ms) delays the sandbox's REST answers, as a
# distant Twilio does. WORK_DELAY, HANDLER_TIMEOUT, LOG_LEVEL, WELCOME_MESSAGE
# and RETURNING_CUSTOMER are passed on to the instances when set.
# LOCAL_CLUSTER_DIR (default $TMPDIR/experthub-local-cluster) holds the
# binary, pids, logs and settings. A Firestore emulator named by
# FIRESTORE_EMULATOR_HOST is used (and left running); otherwise one is
# started with .ci/firestore-emulator.sh and stopped with the rest.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${LOCAL_CLUSTER_DIR:-${TMPDIR:-/tmp}/experthub-local-cluster}
bin=$state/experthub
port=${LOCAL_CLUSTER_PORT:-8080}
front_url=http://127.0.0.1:$port
sandbox_port=$((port + 10))
queue_addr=127.0.0.1:$((port + 11))
queue=projects/local/locations/local/queues/expert-hub-work
passed_on=(WORK_DELAY HANDLER_TIMEOUT LOG_LEVEL WELCOME_MESSAGE RETURNING_CUSTOMER)

say() { echo "local-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

# ours: the pid in $state/$1.pid runs our binary (a stale pid file may name
# another process by now).
ours() {
  local pid
  [[ -s $state/$1.pid ]] || return 1
  pid=$(<"$state/$1.pid")
  kill -0 "$pid" 2>/dev/null && [[ $(ps -o command= -p "$pid" 2>/dev/null) == "$bin"* ]]
}

listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

wait_listening() { # name addr
  for _ in $(seq 300); do
    listening "$2" && return 0
    ours "$1" || break
    sleep 0.1
  done
  tail -n 20 "$state/$1.log" >&2 || true
  return 1
}

# wait_exports file count: wait for a process to print its export lines.
wait_exports() {
  for _ in $(seq 300); do
    (($(grep -c '^export ' "$1" 2>/dev/null || true) >= $2)) && return 0
    sleep 0.1
  done
  return 1
}

# spawn name command…: start a process of ours in the background, in the
# state directory (no .env there), with a clean environment.
spawn() {
  local name=$1
  shift
  (cd "$state" && exec env -i PATH="$PATH" HOME="$HOME" "$@" >"$state/$name.out" 2>"$state/$name.log" </dev/null) &
  echo $! >"$state/$name.pid"
}

start_instance() {
  local i=$1 vars=()
  mapfile -t vars <"$state/instance.env"
  (
    cd "$state"
    exec env -i PATH="$PATH" HOME="$HOME" "${vars[@]}" PORT=$((port + i)) "$bin" serve \
      >"$state/instance-$i.log" 2>&1 </dev/null
  ) &
  echo $! >"$state/instance-$i.pid"
  wait_listening "instance-$i" "127.0.0.1:$((port + i))" || die "instance $i did not start (log: $state/instance-$i.log)"
}

start() {
  local n=${1:-3}
  [[ $n =~ ^[1-9]$ ]] || die "start takes a number of instances, 1 to 9"
  if ours front; then
    die "already running (scripts/local-cluster.sh status); stop it first"
  fi
  mkdir -p "$state"
  chmod 700 "$state"
  trap 'say "start failed; stopping what it started"; stop' EXIT
  for p in "$port" "$sandbox_port" "${queue_addr#*:}" $(seq $((port + 1)) $((port + n))); do
    listening "127.0.0.1:$p" && die "port $p is in use (set LOCAL_CLUSTER_PORT)"
  done

  say "building $bin"
  (cd "$root" && go build -o "$bin" ./cmd/experthub)

  if [[ -n ${FIRESTORE_EMULATOR_HOST:-} ]]; then
    listening "$FIRESTORE_EMULATOR_HOST" || die "no Firestore emulator at FIRESTORE_EMULATOR_HOST=$FIRESTORE_EMULATOR_HOST"
    rm -f "$state/firestore.owned"
  else
    say "starting the Firestore emulator"
    eval "$(EMULATOR_STATE_DIR=$state bash "$root/.ci/firestore-emulator.sh" start)"
    touch "$state/firestore.owned"
  fi
  echo "$FIRESTORE_EMULATOR_HOST" >"$state/firestore.host"
  # A project of its own each time: the sandbox numbers its conversations
  # from 1 again, and must not find an earlier run's claims.
  local project
  project=expert-hub-local-$(date +%s)

  spawn queue "$bin" queue-fake -addr "$queue_addr" -queue "$queue"
  wait_exports "$state/queue.out" 2 || die "the Cloud Tasks fake did not start (log: $state/queue.log)"
  spawn sandbox PUBLIC_BASE_URL="$front_url" SANDBOX_PORT="$sandbox_port" \
    "$bin" sandbox -latency "${SANDBOX_LATENCY:-200ms}"
  wait_exports "$state/sandbox.out" 5 || die "the sandbox did not start (log: $state/sandbox.log)"

  {
    sed -n 's/^export //p' "$state/queue.out" "$state/sandbox.out"
    echo "PUBLIC_BASE_URL=$front_url"
    echo "GOOGLE_CLOUD_PROJECT=$project"
    echo "FIRESTORE_EMULATOR_HOST=$FIRESTORE_EMULATOR_HOST"
    echo "WORK_QUEUE=$queue"
    echo "WORK_SERVICE_ACCOUNT=expert-hub-tasks@local.iam.gserviceaccount.com"
    for v in "${passed_on[@]}"; do
      if [[ -n ${!v:-} ]]; then echo "$v=${!v}"; fi
    done
  } >"$state/instance.env"
  echo "$n" >"$state/instances"

  local backends=()
  for i in $(seq "$n"); do
    start_instance "$i"
    backends+=("http://127.0.0.1:$((port + i))")
  done
  spawn front "$bin" front -addr "127.0.0.1:$port" "${backends[@]}"
  wait_listening front "127.0.0.1:$port" || die "the front did not start (log: $state/front.log)"
  trap - EXIT
  status
  cat <<EOF

Talk as a customer (another terminal; Enter alone shows what is new):
  $bin chat --from +33679500001 --sandbox http://127.0.0.1:$sandbox_port
Watch which instance gets each request:
  tail -f $state/front.log
Kill an instance:  $0 kill 2      or, before texting, $0 crash
Stop everything:   $0 stop
EOF
}

alive() { if ours "$1"; then echo "pid $(<"$state/$1.pid")"; else echo "DOWN"; fi; }

status() {
  [[ -s $state/instances ]] || { say "not running (no $state/instances)"; return 0; }
  local n
  n=$(<"$state/instances")
  echo "Expert Hub local cluster (state, logs: $state)"
  printf '  %-18s %-28s %-10s %s\n' \
    front "$front_url" "$(alive front)" "PUBLIC_BASE_URL of every instance; each request to the next live one" \
    sandbox "http://127.0.0.1:$sandbox_port" "$(alive sandbox)" "Twilio; webhooks to the front; workers ann, bob, chloe@example.com" \
    queue-fake "$queue_addr" "$(alive queue)" "Cloud Tasks; $queue → $front_url/work"
  for i in $(seq "$n"); do
    printf '  %-18s %-28s %-10s %s\n' "instance $i" "http://127.0.0.1:$((port + i))" "$(alive "instance-$i")" "experthub serve"
  done
  printf '  %-18s %-28s %-10s %s\n' firestore "$(cat "$state/firestore.host" 2>/dev/null)" \
    "$([[ -e $state/firestore.owned ]] && echo ours || echo shared)" \
    "project $(sed -n 's/^GOOGLE_CLOUD_PROJECT=//p' "$state/instance.env" 2>/dev/null)"
}

kill_instance() {
  local i=$1
  [[ $i =~ ^[1-9]$ ]] || die "which instance? e.g. kill 2"
  ours "instance-$i" || die "instance $i is not running"
  kill -KILL "$(<"$state/instance-$i.pid")"
  say "killed -9 instance $i at $(date +%T); the queue hands its unfinished work to another (WORK_DELAY after the webhook)"
}

crash() {
  ours front || die "not running"
  local seen line
  seen=$(wc -l <"$state/front.log")
  say "kills the instance that gets the next post-event webhook: text the bot now (AGENT, say)"
  for _ in $(seq 30000); do
    line=$(tail -n +$((seen + 1)) "$state/front.log" | grep -m1 'POST /post-event → instance' || true)
    if [[ -n $line ]]; then
      line=${line#*→ instance }
      kill_instance "${line%% *}"
      return
    fi
    sleep 0.01
  done
  die "no post-event webhook came"
}

revive() {
  local i=$1
  if ! [[ $i =~ ^[1-9]$ ]] || ((i > $(<"$state/instances"))); then
    die "which instance? e.g. revive 2"
  fi
  ours "instance-$i" && die "instance $i is running"
  start_instance "$i"
  say "instance $i is back (pid $(<"$state/instance-$i.pid"))"
}

stop_one() {
  local name=$1 pid
  if ours "$name"; then
    pid=$(<"$state/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/$name.pid"
}

stop() {
  [[ -d $state ]] || return 0
  local f
  for f in "$state"/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/}
    f=${f%.pid}
    case $f in experthub-firestore-emulator) ;; *) stop_one "$f" ;; esac
  done
  if [[ -e $state/firestore.owned ]]; then
    EMULATOR_STATE_DIR=$state bash "$root/.ci/firestore-emulator.sh" stop
    rm -f "$state/firestore.owned"
  fi
  rm -f "$state/instances" "$state/instance.env"
  say "stopped (logs kept in $state)"
}

case ${1:-} in
  start) start "${2:-3}" ;;
  status) status ;;
  kill) kill_instance "${2:-}" ;;
  crash) crash ;;
  revive) revive "${2:-}" ;;
  stop) stop ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
