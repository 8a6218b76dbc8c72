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
#   scripts/local-cluster.sh crash       kill -9 the instance that gets the next bot turn (onMessageAdded)
#   scripts/local-cluster.sh revive [I]  start instance I again (no I: every instance that is down)
#   scripts/local-cluster.sh stop        stop everything start started
#
# A killed instance (kill or crash) stays down until revive: the front
# skips it. kill of an instance already down and revive of one running
# say so and change nothing.
#
# LOCAL_CLUSTER_PORT (default 8080) is the front's port; instance I listens
# on it + I, the sandbox on it + 10, the Cloud Tasks fake on it + 11.
# SANDBOX_LATENCY (default 200ms) delays the sandbox's REST answers, as a
# distant Twilio does. WORK_DELAY, HANDLER_TIMEOUT, LOG_LEVEL, WELCOME_MESSAGE,
# RETURNING_CUSTOMER, ROUTING_POLICY and EXPERTISE_AREAS are passed on to the
# sandbox and the instances when set; unset, the instances get the
# sandbox's own defaults (internal/sandbox's Defaults), as with
# `go run ./cmd/experthub`.
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
passed_on=(WORK_DELAY HANDLER_TIMEOUT LOG_LEVEL WELCOME_MESSAGE RETURNING_CUSTOMER ROUTING_POLICY EXPERTISE_AREAS)

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

# exported file…: the NAME=value of each "export NAME=value" line, the
# value read as the shell reads it (the sandbox quotes EXPERTISE_AREAS).
exported() {
  local line value
  while IFS= read -r line; do
    [[ $line =~ ^export\ ([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
    eval "value=${BASH_REMATCH[2]}"
    printf '%s=%s\n' "${BASH_REMATCH[1]}" "$value"
  done < <(cat "$@")
}

# passed: NAME=value of each passed_on variable set here.
passed() {
  local v
  for v in "${passed_on[@]}"; do
    if [[ -n ${!v:-} ]]; then echo "$v=${!v}"; fi
  done
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
  local settings=()
  mapfile -t settings < <(passed)
  spawn sandbox "${settings[@]}" PUBLIC_BASE_URL="$front_url" SANDBOX_PORT="$sandbox_port" \
    "$bin" sandbox -latency "${SANDBOX_LATENCY:-200ms}"
  wait_exports "$state/sandbox.out" 5 || die "the sandbox did not start (log: $state/sandbox.log)"

  {
    exported "$state/queue.out" "$state/sandbox.out"
    echo "PUBLIC_BASE_URL=$front_url"
    echo "GOOGLE_CLOUD_PROJECT=$project"
    echo "FIRESTORE_EMULATOR_HOST=$FIRESTORE_EMULATOR_HOST"
    echo "WORK_QUEUE=$queue"
    echo "WORK_SERVICE_ACCOUNT=expert-hub-tasks@local.iam.gserviceaccount.com"
    passed
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
Kill an instance:  $0 kill 2      or, before texting, $0 crash (kills the next bot turn's instance)
Start it again:    $0 revive 2    (revive alone: every instance that is down)
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
    sandbox "http://127.0.0.1:$sandbox_port" "$(alive sandbox)" "Twilio; webhooks to the front; workers ann, bob, chloe, dora@example.com" \
    queue-fake "$queue_addr" "$(alive queue)" "Cloud Tasks; $queue → $front_url/work"
  for i in $(seq "$n"); do
    printf '  %-18s %-28s %-10s %s\n' "instance $i" "http://127.0.0.1:$((port + i))" "$(alive "instance-$i")" "experthub serve"
  done
  printf '  %-18s %-28s %-10s %s\n' firestore "$(cat "$state/firestore.host" 2>/dev/null)" \
    "$([[ -e $state/firestore.owned ]] && echo ours || echo shared)" \
    "project $(sed -n 's/^GOOGLE_CLOUD_PROJECT=//p' "$state/instance.env" 2>/dev/null)"
}

# instance_number I: I names one of the instances start started.
instance_number() {
  [[ -s $state/instances ]] || die "not running (scripts/local-cluster.sh start)"
  [[ $1 =~ ^[1-9]$ ]] && (($1 <= $(<"$state/instances")))
}

kill_instance() {
  local i=$1
  instance_number "$i" || die "which instance? e.g. kill 2"
  if ! ours "instance-$i"; then
    say "instance $i is already down; revive $i starts it again"
    return
  fi
  kill -KILL "$(<"$state/instance-$i.pid")"
  say "killed -9 instance $i at $(date +%T); the queue hands its unfinished work to another (WORK_DELAY after the webhook)"
  say "instance $i stays down (the front skips it) until: $0 revive $i"
}

crash() {
  ours front || die "not running"
  local seen line
  seen=$(wc -l <"$state/front.log")
  say "kills the instance that gets the next bot turn (a customer's message, onMessageAdded): text the bot now (AGENT, say)"
  for _ in $(seq 30000); do
    line=$(tail -n +$((seen + 1)) "$state/front.log" | grep -m1 'POST /post-event (onMessageAdded) → instance' || true)
    if [[ -n $line ]]; then
      line=${line#*→ instance }
      kill_instance "${line%% *}"
      return
    fi
    sleep 0.01
  done
  die "no customer message came"
}

revive() {
  local i=${1:-}
  if [[ -z $i ]]; then
    [[ -s $state/instances ]] || die "not running (scripts/local-cluster.sh start)"
    local down=0
    for i in $(seq "$(<"$state/instances")"); do
      ours "instance-$i" || { revive "$i"; down=$((down + 1)); }
    done
    ((down > 0)) || say "every instance is running"
    return
  fi
  instance_number "$i" || die "which instance? e.g. revive 2"
  if ours "instance-$i"; then
    say "instance $i is already running"
    return
  fi
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
