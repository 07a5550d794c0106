#!/bin/bash
# packaging/slurm/cxr-batch.sbatch on a real Slurm: starts munged, slurmctld and slurmd on this
# machine with a configuration in a temporary folder, submits a 3-task array over the tiny golden
# checkpoint and a few images, merges the shards and checks that the merged results equal a
# single-process run (the same text for every (image, task), in the same order).
#
# Usage: slurm_array_test.sh CXR_BATCH SBATCH_SCRIPT CHECKPOINT IMAGE...
# Exit 77 (ctest SKIP) when it cannot run here: not root, or slurm-wlm / munge / jq missing, or no
# checkpoint. It never passes without having run the array.
set -uo pipefail

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ $# -ge 4 ]] || fail "usage: $0 CXR_BATCH SBATCH_SCRIPT CHECKPOINT IMAGE..."
exe=$(realpath -- "$1") script=$(realpath -- "$2") checkpoint=$(realpath -- "$3")
shift 3
[[ $(id -u) -eq 0 ]] || skip "the local Slurm needs root (SlurmUser=root); run as root (as CI does)"
for tool in munged slurmctld slurmd sbatch squeue scontrol jq; do
  command -v "$tool" >/dev/null || skip "$tool not found; install slurm-wlm, munge and jq (scripts/install-deps.sh)"
done
[[ -f "$checkpoint/config.json" ]] || skip "no tiny checkpoint at $checkpoint"
[[ -x "$exe" ]] || fail "$exe is not executable"

tmp=$(mktemp -d /tmp/cxr-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  local rc=$?
  if [[ -n "${SLURM_CONF:-}" ]]; then scancel --quiet --name=cxr-batch-test 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    for log in "$tmp"/*.log "$tmp"/out/*.log; do [[ -f $log ]] && { echo "---- $log"; tail -n 30 "$log"; }; done >&2
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- munge, with its own key and socket ----
mkdir -p "$tmp/munge" && chmod 755 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --foreground --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.sock" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge/munged.seed" >"$tmp/munged.out.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S "$tmp/munge/munge.sock" ]] && break; sleep 0.1; done
[[ -S "$tmp/munge/munge.sock" ]] || fail "munged did not start"

# ---- slurm.conf: one node, this machine ----
host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/out"
export SLURM_CONF="$tmp/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=cxrtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$tmp/slurmd.out.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  [[ "$state" == idle ]] && break
  sleep 0.2
done
[[ "$state" == idle ]] || fail "the local Slurm did not come up (node state '${state:-none}')"
echo "local Slurm up: node $host idle, controller on port $port"

# ---- the dataset and the two runs ----
mkdir -p "$tmp/images"
i=0
for img in "$@"; do i=$((i + 1)); cp -- "$img" "$tmp/images/$(printf '%02d' $i)_$(basename "$img")"; done
opts=(--model "$checkpoint" --images "$tmp/images" --tasks report,differential --max-new-tokens 12 --seed 3 --threads 1 --control)

"$exe" run "${opts[@]}" --out "$tmp/single" 2>"$tmp/single.log" || fail "the single-process run failed ($(tail -n 3 "$tmp/single.log"))"

cd "$tmp/out"
CXR_BATCH="$exe" timeout 300 sbatch --wait --job-name=cxr-batch-test --array=1-3 --cpus-per-task=1 --time=10 \
  --output="$tmp/out/shard-%a.log" "$script" "${opts[@]}" --out "$tmp/sharded" \
  || fail "the job array failed or timed out (sbatch --wait: $?)"
for k in 1 2 3; do
  grep -q "shard $k/3\|task $k of 3" "$tmp/out/shard-$k.log" || fail "array task $k did not run shard $k/3"
  [[ -f "$tmp/sharded/results.shard-$k-of-3.jsonl" ]] || fail "no results from array task $k"
done

"$exe" merge --out "$tmp/sharded" || fail "merge failed"

jq -c '[.id, .task, .seed, .text, .control]' "$tmp/single/results.jsonl" >"$tmp/single.keys"
jq -c '[.id, .task, .seed, .text, .control]' "$tmp/sharded/results.jsonl" >"$tmp/sharded.keys"
lines=$(wc -l <"$tmp/single.keys")
expected=$(( ($# + 2) * 2 ))
[[ $lines -eq $expected ]] || fail "the single run wrote $lines results, expected $expected"
diff -u "$tmp/single.keys" "$tmp/sharded.keys" || fail "merged shards differ from the single-process run"
echo "PASS: 3-task Slurm array + merge equals the single-process run ($lines results)"
