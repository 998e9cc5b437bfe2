#!/usr/bin/env bash
# A single-node Slurm cluster in one directory, for tests: `local-cluster.sh start DIR` writes a slurm.conf, a munge
# key, and starts munged, slurmctld and slurmd with every file under DIR; it prints the SLURM_CONF to export.
# `local-cluster.sh stop DIR` stops them. Needs Debian's slurm-wlm and munge; runs as root (the daemons run as
# root, without cgroups: a container has none to give them). Exits 3 when the cluster cannot start.
set -euo pipefail

cmd=${1:?usage: local-cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: local-cluster.sh start|stop DIR}")

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

# A port nothing listens on (nothing answers a connection to it), from 20000-59999.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

case "$cmd" in
  stop)
    stop
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: local-cluster.sh start|stop DIR" >&2
    exit 2
    ;;
esac

for tool in munged mungekey slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null 2>&1 || { echo "local-cluster: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[ "$(id -u)" -eq 0 ] || { echo "local-cluster: needs root (the daemons run as root)" >&2; exit 3; }

mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)
ctld_port=$(free_port)
d_port=$(free_port)
while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done

mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 \
  || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" --force \
  || { echo "local-cluster: munged did not start" >&2; exit 3; }

cat > "$dir/slurm.conf" <<CONF
ClusterName=tokenmeter-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MaxArraySize=1001
NodeName=$host CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" -i || { echo "local-cluster: slurmctld did not start (see $dir/log/slurmctld.log)" >&2; stop; exit 3; }
slurmd -f "$SLURM_CONF" || { echo "local-cluster: slurmd did not start (see $dir/log/slurmd.log)" >&2; stop; exit 3; }

# Wait until the node takes jobs.
for _ in $(seq 100); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle*|mix*|alloc*) echo "$SLURM_CONF"; exit 0 ;;
  esac
  sleep 0.2
done
echo "local-cluster: the node did not become idle (state '${state:-none}'; see $dir/log)" >&2
stop
exit 3
