#!/usr/bin/env bash
# A real single-node Slurm on localhost, for tests: munged, slurmctld and slurmd from Debian 12's
# `munge` and `slurm-wlm` (scripts/install-deps.sh installs them), run as root with every file
# (key, sockets, state, spool, logs, pids) in one private directory, on a free port pair of their
# own, so that several clusters can run side by side and none touches /etc, /run or /var.
#
# Usage:
#   slurm/local-cluster.sh start  DIR   start a cluster whose files live in DIR (created if missing;
#                                       reused if there: the job state is cleared on every start),
#                                       wait until its node is idle, write DIR/env.sh and print
#                                       `export SLURM_CONF=DIR/slurm.conf` as the last stdout line
#                                       (everything else goes to stderr), so
#                                       eval "$(slurm/local-cluster.sh start DIR)" works.
#   slurm/local-cluster.sh stop   DIR   cancel the cluster's jobs, stop the daemons it started (by
#                                       the pids in DIR, never by name), remove the sockets; DIR is
#                                       left for the caller to remove. Safe to run twice, or after
#                                       a start that failed halfway.
#   slurm/local-cluster.sh status DIR   print sinfo and squeue; exit 0 if the cluster is up.
#
# DIR must be short (at most 60 characters; use `mktemp -d /tmp/osl.XXXX`): Unix socket paths are
# limited to 108 bytes and slurmd puts its job-step sockets in DIR/spool. Clients need SLURM_CONF
# (source DIR/env.sh). OMNISEG_REQUEUE_EXIT (default 75) is the batch-script exit code that makes
# Slurm requeue the job (RequeueExit).
#
# Settings this container needs, and why:
#   ProctrackType=proctrack/linuxproc   proctrack/cgroup fails: "cgroup namespace 'freezer' not mounted"
#   TaskPlugin=task/none, JobAcctGatherType=jobacct_gather/none   no cgroups, no accounting here
#   SlurmUser=root, private StateSaveLocation/SlurmdSpoolDir/pid/log files   no /var/spool, no slurm user
#   AuthInfo=socket=DIR/munge/munged.sock   our own munged; it refuses a socket in a directory that
#                     not everybody can search ("Socket is inaccessible: execute permissions for all
#                     required"), so start makes DIR go+x (mktemp -d gives 0700) and DIR/munge 0755
#   NodeName=<unique> NodeAddr=127.0.0.1, `slurmd -N <name>`   independent of the machine's hostname
#   SelectType=select/cons_tres   jobs run side by side (select/linear runs one at a time)
#   MpiDefault=pmix   the only PMI that Debian's Open MPI supports under srun
#   AuthInfo cred_expire=5, SchedulerParameters=bf_interval=1,sched_interval=1
#                     a requeued job restarts after ~6 s instead of ~130 s
#   FirstJobId distinct per port pair   concurrent clusters never run the same job id, so Open MPI's
#                     session directories in /tmp (named after the PMIx namespace) never collide
#   TmpFS=DIR/tmp     the PMIx plugin's per-step directories are private too
#   KillWait=5        a cancelled job is SIGKILLed 5 s after SIGTERM (default 30): stop stays quick
set -euo pipefail

readonly PORT_MIN=26817 PORT_MAX=26999     # SlurmctldPort = p, SlurmdPort = p + 1
readonly MAX_DIR_CHARS=60
readonly START_TIMEOUT_S=30                # until the node is idle
readonly DAEMON_TIMEOUT_S=15               # for a daemon to write its pid file / listen / exit
readonly JOBS_TIMEOUT_S=15                 # for cancelled jobs to leave squeue (KillWait=5 + slack)
readonly CLIENT_TIMEOUT_S=10               # for one sinfo/squeue/scancel call
readonly LOCK_FILE=/tmp/omniseg-local-cluster.lock
# Set in the environment of the daemons we start (and inherited by their children), never in the
# clients': stop checks it in /proc/PID/environ before signalling a pid, so a stale pid file can
# never make it signal a process of somebody else.
readonly MARK=OMNISEG_LOCAL_CLUSTER_DAEMON

log() { echo "local-cluster: $*" >&2; }
die() { echo "local-cluster: error: $*" >&2; exit 1; }
usage() {
  sed -n '/^# Usage:/,/^# Settings/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
command_name=$1
[[ -n "$2" ]] || usage
case "$command_name" in start | stop | status) ;; *) usage ;; esac

dir=$(realpath -m -- "$2")
if [[ "$command_name" == start ]]; then
  if ((${#dir} > MAX_DIR_CHARS)); then
    die "DIR '$dir' is ${#dir} characters long; at most $MAX_DIR_CHARS are allowed because Unix \
socket paths (slurmd's job-step sockets in DIR/spool) are limited to 108 bytes. Use a short \
directory such as \$(mktemp -d /tmp/osl.XXXX)."
  fi
  mkdir -p -- "$dir"
elif [[ ! -d "$dir" ]]; then
  if [[ "$command_name" == stop ]]; then
    log "nothing to stop: $dir does not exist"
    exit 0
  fi
  die "$dir does not exist (no cluster was started there)"
fi

conf=$dir/slurm.conf
munge_dir=$dir/munge
munge_socket=$munge_dir/munged.sock
# The cluster's name and its node's name: unique per DIR, so a client pointed at the wrong port
# never mistakes another cluster's node for ours.
hash=$(printf '%s' "$dir" | md5sum | cut -c1-8)
requeue_exit=${OMNISEG_REQUEUE_EXIT:-75}
node=lc$hash
cluster=lc$hash

# --- helpers -----------------------------------------------------------------------------------

# is_ours PID NAME: PID is alive, runs NAME and was started by us for this DIR.
is_ours() {
  local pid=$1 name=$2
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/comm ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
  { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "$MARK=$dir"
}

pid_file() {
  case $1 in
    munged) echo "$munge_dir/munged.pid" ;;
    slurmctld) echo "$dir/run/slurmctld.pid" ;;
    slurmd) echo "$dir/run/slurmd.pid" ;;
  esac
}

# daemon_pid NAME: prints the pid of our running daemon NAME; fails if it is not running.
daemon_pid() {
  local file pid
  file=$(pid_file "$1")
  [[ -r "$file" ]] || return 1
  pid=$({ tr -dc '0-9' <"$file"; } 2>/dev/null) || return 1
  is_ours "$pid" "$1" || return 1
  echo "$pid"
}

client() { # client CMD ARGS...: a Slurm client command for this cluster, bounded in time
  SLURM_CONF=$conf timeout "$CLIENT_TIMEOUT_S" "$@"
}

port_free() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 1; fi
  fi
}

port_listening() { ! port_free "$1"; }

print_log_tails() {
  local file
  for file in "$munge_dir/munged.log" "$dir/log/slurmctld.log" "$dir/log/slurmd.log" \
    "$dir"/log/*.out; do
    [[ -s "$file" ]] || continue
    echo "local-cluster: ---- last lines of $file ----" >&2
    tail -n 25 -- "$file" >&2
  done
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds; fails after SECONDS.
wait_until() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

daemon_gone() { ! daemon_pid "$1" >/dev/null; }

# --- stop ------------------------------------------------------------------------------------

# Processes that are ours but were not started by us directly: slurmstepd and the job processes
# it runs, left behind when a job could not be cancelled. slurmstepd rewrites its environment
# (setproctitle), so it is found through its listening socket in DIR/spool instead.
leftover_step_pids() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hxlp 2>/dev/null | grep -F "$dir/spool/" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

descendants() { # descendants PID: every process below PID
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

stop_daemon() {
  local name=$1 pid
  pid=$(daemon_pid "$name") || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "$DAEMON_TIMEOUT_S" daemon_gone "$name"; then
    log "$name (pid $pid) did not exit within ${DAEMON_TIMEOUT_S} s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 daemon_gone "$name" || log "$name (pid $pid) is still there after SIGKILL"
  fi
}

no_jobs() { [[ -z "$(client squeue -h -o %i 2>/dev/null)" ]]; }

do_stop() {
  local jobs pid victims
  if [[ -r "$conf" ]] && daemon_pid slurmctld >/dev/null; then
    jobs=$(client squeue -h -o %i 2>/dev/null || true)
    if [[ -n "$jobs" ]]; then
      log "cancelling jobs ${jobs//$'\n'/ }"
      # shellcheck disable=SC2086 # one word per job id
      client scancel $jobs 2>/dev/null || true
      wait_until "$JOBS_TIMEOUT_S" no_jobs ||
        log "jobs still in squeue ${JOBS_TIMEOUT_S} s after scancel: $(client squeue -h -o '%i:%T' 2>/dev/null | tr '\n' ' ')"
    fi
  fi
  # Step daemons and their tasks still there (jobs that could not be cancelled): gone before
  # slurmd, while the socket that identifies them is still listening.
  victims=""
  for pid in $(leftover_step_pids); do
    victims+=" $pid $(descendants "$pid" | tr '\n' ' ')"
  done
  if [[ -n "${victims// /}" ]]; then
    log "killing leftover job-step processes:$victims"
    # shellcheck disable=SC2086
    kill -KILL $victims 2>/dev/null || true
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
  find "$dir" -type s -delete 2>/dev/null || true
}

# --- start -----------------------------------------------------------------------------------

need() {
  local missing=() cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
  ((${#missing[@]} == 0)) ||
    die "missing ${missing[*]}; install them with scripts/install-deps.sh \
(apt-get install --no-install-recommends slurm-wlm munge)"
}

# A modest RealMemory (1024 MB, less on a smaller machine): more than the machine has would
# drain the node ("Low RealMemory").
real_memory_mb() {
  local total_kb
  total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || true)
  if [[ "$total_kb" =~ ^[0-9]+$ ]] && ((total_kb / 2048 < 1024)); then
    echo $((total_kb / 2048))
  else
    echo 1024
  fi
}

write_conf() { # write_conf CTLD_PORT SLURMD_PORT FIRST_JOB_ID
  cat >"$conf" <<EOF
# Generated by slurm/local-cluster.sh for a test cluster in $dir; do not edit.
ClusterName=$cluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$dir/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
MpiDefault=pmix
FirstJobId=$3
RequeueExit=$requeue_exit
ReturnToService=2
KillWait=5
MinJobAge=300
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(real_memory_mb) State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

node_idle() { [[ "$(client sinfo -h -n "$node" -o %T 2>/dev/null)" == idle ]]; }

start_failed() {
  log "error: $1"
  print_log_tails
  log "stopping what was started"
  do_stop
  exit 1
}

do_start() {
  need munged mungekey munge unmunge slurmctld slurmd sinfo squeue scancel ss flock
  [[ $(id -u) -eq 0 ]] || die "must run as root (SlurmUser=root, munged with its own key)"
  [[ "$requeue_exit" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
    die "OMNISEG_REQUEUE_EXIT='$requeue_exit' is not an exit code (or a list like 75,76-78)"
  local name
  for name in munged slurmctld slurmd; do
    if daemon_pid "$name" >/dev/null; then
      die "a cluster is already running in $dir ($name pid $(daemon_pid "$name")); stop it first: $0 stop $dir"
    fi
  done
  # Leftovers of a previous start (sockets, pids) would only confuse the daemons.
  find "$dir" -type s -delete 2>/dev/null || true
  rm -f -- "$munge_dir/munged.pid" "$dir"/run/*.pid
  mkdir -p -- "$munge_dir" "$dir/state" "$dir/spool" "$dir/run" "$dir/log" "$dir/tmp"
  # munged refuses a socket whose directory, or any directory above it, is not searchable by
  # all ("Socket is inaccessible: execute permissions for all required"): mktemp -d gives 0700.
  chmod go+x "$dir"
  chmod 755 "$munge_dir"
  chmod 1777 "$dir/tmp"

  # munge: our own key, socket, log, pid and seed files.
  if [[ ! -s "$munge_dir/munge.key" ]]; then
    mungekey -c -k "$munge_dir/munge.key" >/dev/null ||
      die "mungekey -c -k $munge_dir/munge.key failed"
  fi
  chmod 600 "$munge_dir/munge.key"
  log "starting munged (socket $munge_socket)"
  env "$MARK=$dir" munged --socket="$munge_socket" --key-file="$munge_dir/munge.key" \
    --log-file="$munge_dir/munged.log" --pid-file="$munge_dir/munged.pid" \
    --seed-file="$munge_dir/munged.seed" </dev/null >>"$dir/log/munged.out" 2>&1 9>&- ||
    start_failed "munged did not start"
  wait_until "$DAEMON_TIMEOUT_S" daemon_pid munged >/dev/null ||
    start_failed "munged wrote no pid file within ${DAEMON_TIMEOUT_S} s"
  munge -n -S "$munge_socket" | unmunge -S "$munge_socket" >/dev/null 2>&1 ||
    start_failed "munged does not answer on $munge_socket"

  # Ports: a free pair, chosen and bound under a lock so that clusters started at the same time
  # never pick the same pair (a daemon that cannot bind only logs it; its start still returns 0).
  exec 9>>"$LOCK_FILE"
  flock -w 120 9 || start_failed "could not lock $LOCK_FILE within 120 s"
  local pairs=$(((PORT_MAX - PORT_MIN) / 2)) i index ctld_port="" slurmd_port=""
  local first=$((RANDOM % pairs))
  for ((i = 0; i < pairs; i++)); do
    index=$(((first + i) % pairs))
    local p=$((PORT_MIN + 2 * index))
    if port_free "$p" && port_free "$((p + 1))"; then
      ctld_port=$p slurmd_port=$((p + 1))
      break
    fi
  done
  [[ -n "$ctld_port" ]] || start_failed "no free port pair in $PORT_MIN-$PORT_MAX"
  # Distinct job ids for concurrent clusters (their port pairs differ): 100000 per pair.
  write_conf "$ctld_port" "$slurmd_port" "$(((index + 1) * 100000))"
  printf '# Generated by slurm/local-cluster.sh: source it to use the cluster in %s.\nexport SLURM_CONF=%s\n' \
    "$dir" "$conf" >"$dir/env.sh"

  log "starting slurmctld (port $ctld_port) and slurmd (node $node, port $slurmd_port)"
  # -c: start from a clean job state, also when DIR is reused.
  env "$MARK=$dir" SLURM_CONF="$conf" slurmctld -c -f "$conf" \
    </dev/null >>"$dir/log/slurmctld.out" 2>&1 9>&- || start_failed "slurmctld did not start"
  env "$MARK=$dir" SLURM_CONF="$conf" slurmd -f "$conf" -N "$node" \
    </dev/null >>"$dir/log/slurmd.out" 2>&1 9>&- || start_failed "slurmd did not start"
  wait_until "$DAEMON_TIMEOUT_S" port_listening "$ctld_port" ||
    start_failed "slurmctld is not listening on port $ctld_port after ${DAEMON_TIMEOUT_S} s"
  wait_until "$DAEMON_TIMEOUT_S" port_listening "$slurmd_port" ||
    start_failed "slurmd is not listening on port $slurmd_port after ${DAEMON_TIMEOUT_S} s"
  flock -u 9
  exec 9>&-
  wait_until "$DAEMON_TIMEOUT_S" daemon_pid slurmctld >/dev/null ||
    start_failed "slurmctld is not running (no live pid in $(pid_file slurmctld))"
  wait_until "$DAEMON_TIMEOUT_S" daemon_pid slurmd >/dev/null ||
    start_failed "slurmd is not running (no live pid in $(pid_file slurmd))"

  wait_until "$START_TIMEOUT_S" node_idle ||
    start_failed "node $node is not idle after ${START_TIMEOUT_S} s (sinfo says: \
'$(client sinfo -h -n "$node" -o '%T %E' 2>&1 || true)')"
  log "up in $dir: node $node idle with $(nproc) CPUs, RequeueExit=$requeue_exit"
  echo "export SLURM_CONF=$conf"
}

# --- status ----------------------------------------------------------------------------------

do_status() {
  [[ -r "$conf" ]] || { log "no cluster in $dir (no slurm.conf)"; return 1; }
  local name up=0
  for name in munged slurmctld slurmd; do
    if daemon_pid "$name" >/dev/null; then
      log "$name running (pid $(daemon_pid "$name"))"
    else
      log "$name not running"
      up=1
    fi
  done
  client sinfo || up=1
  client squeue || up=1
  if ((up == 0)); then log "up: export SLURM_CONF=$conf"; else log "not (fully) up"; fi
  return "$up"
}

case "$command_name" in
  start) do_start ;;
  stop)
    do_stop
    log "stopped ($dir is left in place)"
    ;;
  status) do_status ;;
esac
