#!/bin/sh
# Data-parallel training over MPI, two lavapipe processes on this machine:
# - 2 ranks with batch 4 each train as 1 rank with batch 8 (sft and nextquill): the same losses
#   and weights within 1e-6 relative;
# - a rank killed mid-run ends the job within seconds with a message, and --resume then
#   continues to exactly the losses and weights of an uninterrupted run;
# - a checkpoint of 2 ranks is refused to 1 rank, and a rank that fails at set-up takes the job
#   down with its message.
# usage: dist.sh VKQUILL COMPARE_RUNS mpi|no-mpi
set -u
vkquill=$1 compare=$2
[ "$3" = mpi ] || { echo "vkquill was built without MPI (VKQ_MPI=OFF): skipped"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipped"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
two="mpirun -np 2"

"$vkquill" init --out "$tmp/m" --dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 \
    --seq-len 256 --seed 1 >/dev/null 2>&1 || fail "init"
"$vkquill" data synth --out "$tmp/d" --users 4 --per-user 6 --seed 1 >/dev/null 2>&1 ||
    fail "data synth"
# Every run's options but its directory, batch, steps and method ($tmp has no spaces).
common="--model $tmp/m/model.bin --tokenizer $tmp/m/tokenizer.bin --data $tmp/d/train.jsonl
        --lr 2e-3 --seed 3 --save-every 2"

for method in sft nextquill; do
    steps=4
    [ $method = nextquill ] && steps=12
    "$vkquill" train $common --out "$tmp/one-$method" --batch 8 --steps $steps --method $method \
        2>"$tmp/err" || fail "1 rank, $method: $(cat "$tmp/err")"
    $two "$vkquill" train $common --out "$tmp/two-$method" --batch 4 --steps $steps \
        --method $method 2>"$tmp/err" || fail "2 ranks, $method: $(cat "$tmp/err")"
    "$compare" "$tmp/one-$method" "$tmp/two-$method" 1e-6 ||
        fail "$method: 2 ranks x batch 4 differ from 1 rank x batch 8"
    echo "ok: $method, 2 ranks x batch 4 = 1 rank x batch 8 within 1e-6"
done

# Rank 1 killed once the first checkpoint (step 2 of 12) is written.
resumable="$common --out $tmp/killed --batch 4 --steps 12 --method nextquill"
$two "$vkquill" train $resumable >"$tmp/killed.out" 2>&1 &
job=$!
while [ ! -f "$tmp/killed/checkpoint.bin" ] && kill -0 $job 2>/dev/null; do sleep 0.05; done
victim=""
for p in $(pgrep -P $job); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
[ -n "$victim" ] || fail "rank 1 was not found running (the job ended before step 3?)"
kill -9 "$victim"
killed_at=$(date +%s)
wait $job && fail "the job succeeded although rank 1 was killed"
took=$(( $(date +%s) - killed_at ))
[ $took -le 20 ] || fail "the job took ${took}s to end after rank 1 was killed"
grep -q "rank 1" "$tmp/killed.out" || fail "no message names the killed rank: $(cat "$tmp/killed.out")"
echo "ok: the job ended ${took}s after rank 1 was killed, naming it"

$two "$vkquill" train $resumable --resume 2>"$tmp/err" ||
    fail "resume: $(cat "$tmp/err")"
"$compare" "$tmp/two-nextquill" "$tmp/killed" 0 ||
    fail "killed and resumed differs from the uninterrupted run"
echo "ok: killed and resumed = uninterrupted, exactly"

"$vkquill" train $resumable --resume 2>"$tmp/err" &&
    fail "1 rank resumed a checkpoint of 2"
grep -q "written by 2 ranks" "$tmp/err" || fail "world size mismatch: $(cat "$tmp/err")"
echo "ok: $(cat "$tmp/err")"

start=$(date +%s)
failing="$common --out $tmp/failing --steps 4"
mpirun -np 1 "$vkquill" train $failing : -np 1 env VKQ_DEVICE=no-such-device "$vkquill" train \
    $failing >"$tmp/failing.out" 2>&1 && fail "a job with a failing rank succeeded"
took=$(( $(date +%s) - start ))
grep -q "vkquill: error: rank 1: .*no-such-device" "$tmp/failing.out" ||
    fail "the failing rank's message is missing: $(cat "$tmp/failing.out")"
[ $took -le 60 ] || fail "the job with a failing rank took ${took}s to end"
echo "ok: a rank failing at set-up ended the job in ${took}s with its message"
