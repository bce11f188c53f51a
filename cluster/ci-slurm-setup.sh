#!/usr/bin/env bash
# Single-node SLURM for CI: install, configure, start, wait until the node is idle.
#
# Idempotent; run as root on Debian 12 (bookworm).  No systemd is assumed: the
# daemons are started directly.  Accounting storage is off (no slurmdbd), so
# `sacct` does not work; finished jobs are logged by jobcomp/filetxt to
# $TGSWEEP_SLURM_JOBCOMP (default /var/log/slurm/jobcomp.log) and running jobs
# are visible through `squeue`/`scontrol`.  The tests in tests/test_slurm.py
# use exactly these.
#
#   bash cluster/ci-slurm-setup.sh          # set up (or check) and wait for idle
#   SLURM_SETUP_SKIP_APT=1 bash ...          # do not touch apt (packages present)
set -euo pipefail

log() { printf '[ci-slurm-setup] %s\n' "$*" >&2; }
t0=$(date +%s)

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root"; exit 1
fi

# --- packages -----------------------------------------------------------------
pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})) && [[ -z ${SLURM_SETUP_SKIP_APT:-} ]]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# --- configuration ------------------------------------------------------------
node=$(hostname -s)
if ! getent hosts "$node" >/dev/null; then
    log "adding $node to /etc/hosts"
    echo "127.0.0.1 $node" >>/etc/hosts
fi
cpus=$(nproc)
mem_total=$(free -m | awk '/^Mem:/ {print $2}')
# leave room for the OS, slurmd, the dask scheduler and the test process itself
margin=$(( mem_total / 10 > 1024 ? mem_total / 10 : 1024 ))
real_mem=$(( mem_total - margin ))
jobcomp=${TGSWEEP_SLURM_JOBCOMP:-/var/log/slurm/jobcomp.log}

install -d -m 0755 /etc/slurm /var/log/slurm /var/spool/slurmd /var/spool/slurmctld
conf=/etc/slurm/slurm.conf
new_conf=$(cat <<EOF
# written by tgsweep cluster/ci-slurm-setup.sh -- single-node CI cluster
ClusterName=tgsweep-ci
SlurmctldHost=${node}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=${jobcomp}
# fast turnaround for tests
SchedulerParameters=defer_batch=0
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${node} CPUs=${cpus} RealMemory=${real_mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=1024
EOF
)
conf_changed=0
if [[ ! -f $conf ]] || [[ "$(cat "$conf")" != "$new_conf" ]]; then
    printf '%s\n' "$new_conf" >"$conf"
    conf_changed=1
    log "wrote $conf (CPUs=$cpus RealMemory=$real_mem)"
fi
# slurmd refuses to start without cgroup.conf on some builds even when unused
[[ -f /etc/slurm/cgroup.conf ]] || echo "CgroupPlugin=autodetect" >/etc/slurm/cgroup.conf

# --- munge --------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating munge key"
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    su -s /bin/sh munge -c "/usr/sbin/munged --force" || /usr/sbin/munged --force
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- daemons ------------------------------------------------------------------
running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ((conf_changed)); then
    # a changed configuration needs fresh daemons
    for pidf in /run/slurmd.pid /run/slurmctld.pid; do
        if running "$pidf"; then
            kill "$(cat "$pidf")"
            for _ in $(seq 50); do running "$pidf" || break; sleep 0.1; done
        fi
    done
fi
if ! running /run/slurmctld.pid; then
    log "starting slurmctld"
    /usr/sbin/slurmctld
fi
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
if ! running /run/slurmd.pid; then
    log "starting slurmd"
    /usr/sbin/slurmd
fi

# --- wait for the node --------------------------------------------------------
deadline=$(( $(date +%s) + ${SLURM_SETUP_TIMEOUT:-120} ))
while :; do
    state=$(sinfo -h -n "$node" -o '%t' 2>/dev/null | head -n1 || true)
    case $state in
        idle|mix|alloc) break ;;
        down*|drain*|fail*)
            # e.g. left down from an earlier run: return it to service
            scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
    esac
    if (( $(date +%s) > deadline )); then
        log "node $node not idle (state '$state'); logs:"
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        exit 1
    fi
    sleep 0.5
done
log "node $node is $state after $(( $(date +%s) - t0 )) s"
sinfo
