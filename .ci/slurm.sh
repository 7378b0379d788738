#!/usr/bin/env bash
# A real single-node Slurm for the distributed tests (no systemd, no cgroups, no database).
# Sourced by .ci/run: `slurm_start` installs (Debian packages) and starts munge, slurmctld and
# slurmd, exporting SLURM_CONF and MILLSTONE_SLURM=1; `slurm_stop` stops them by pid file.
# Without root or apt-get it says so and leaves the Slurm tests to skip with that message.

SLURM_ROOT=""

slurm_start() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    export MILLSTONE_SLURM_SKIP="Slurm not started: .ci/run needs root and apt-get to install it"
    echo "$MILLSTONE_SLURM_SKIP"
    return 0
  fi
  local started=$SECONDS
  if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge >/dev/null 2>&1 || {
        export MILLSTONE_SLURM_SKIP="Slurm not started: apt-get install slurmctld slurmd slurm-client munge failed"
        echo "$MILLSTONE_SLURM_SKIP"
        return 0
      }
  fi
  SLURM_ROOT=$(mktemp -d /tmp/millstone-slurm.XXXXXX)
  mkdir -p "$SLURM_ROOT"/{state,spool,log,run}
  if ! { [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1; } \
    || ! install -d -o munge -g munge -m 755 /run/munge; then
    export MILLSTONE_SLURM_SKIP="Slurm not started: munge could not be set up"
    echo "$MILLSTONE_SLURM_SKIP"
    return 0
  fi
  if [ ! -S /run/munge/munge.socket.2 ] || ! pgrep -F /run/munge/munged.pid >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged || true
  fi
  local mem=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))
  cat >"$SLURM_ROOT/slurm.conf" <<CONF
ClusterName=ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_ROOT/log/jobcomp.log
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=600
StateSaveLocation=$SLURM_ROOT/state
SlurmdSpoolDir=$SLURM_ROOT/spool
SlurmctldPidFile=$SLURM_ROOT/run/slurmctld.pid
SlurmdPidFile=$SLURM_ROOT/run/slurmd.pid
SlurmctldLogFile=$SLURM_ROOT/log/slurmctld.log
SlurmdLogFile=$SLURM_ROOT/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$SLURM_ROOT/slurm.conf"
  if ! { slurmctld && slurmd -N localhost; }; then
    export MILLSTONE_SLURM_SKIP="Slurm daemons did not start (see $SLURM_ROOT/log)"
    echo "$MILLSTONE_SLURM_SKIP"
    return 0
  fi
  for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 0.2
  done
  if ! sinfo -h -o %t 2>/dev/null | grep -q idle; then
    export MILLSTONE_SLURM_SKIP="Slurm started but its node never became idle (see $SLURM_ROOT/log)"
    echo "$MILLSTONE_SLURM_SKIP"
    return 0
  fi
  export MILLSTONE_SLURM=1
  echo "Slurm ready in $((SECONDS - started)) s (SLURM_CONF=$SLURM_CONF)"
}

slurm_stop() {
  [ -n "$SLURM_ROOT" ] || return 0
  local pids=() pid
  for pid_file in "$SLURM_ROOT/run/slurmd.pid" "$SLURM_ROOT/run/slurmctld.pid" /run/munge/munged.pid; do
    if [ -s "$pid_file" ]; then
      pid=$(cat "$pid_file")
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # slurmctld saves its state as it exits: wait (up to 5 s each) so the folder can go.
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -rf "$SLURM_ROOT" 2>/dev/null || true
  SLURM_ROOT=""
}
