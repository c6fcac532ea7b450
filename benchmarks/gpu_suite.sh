#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (H100/H200; docs/BENCHMARKS.md, GPU rows). It runs from a plain checkout
# with the machine's own torch (the project is not pip-installed there) and keeps what it has measured under $OUT
# as it goes, so a run cut short still returns its figures:
#   1. motion-tower throughput of the exported (TorchScript) towers per preset and precision
#      (benchmarks/gpu_towers.py), while the procedural corpora are generated in parallel on the CPUs;
#   2. the caption cache filled once on the GPU (experiments/transfer.py --prepare);
#   3. the transfer ladder of experiments/transfer.py, every (variant, seed) in its own process on the one GPU:
#      each run trains the cpu-sized recipe (12 epochs, both procedural dialects) and is scored on real mocap
#      (bandai-namco-1, carried as .device/bandai-namco-1.tar.xz: CC BY-NC, measured with, never shipped), the
#      transfer split and a fresh corpus;
#   4. the table of every finished run (WORK/results/*.json, also packed into results.tgz every 20 s).
# The frozen MiniLM cannot be downloaded there and the shipped package is too big to carry: carry a half-precision
# copy in .device/minilm and point MOTION_RETRIEVAL_TEXT_BACKBONE_DIR at it (the backbone loads it as float32).
# RUN_SECONDS bounds each training process (default 420 s: with 20 processes on one H200 a run takes about 260 s
# to train and 65 s to score); SKIP_TOWERS=1 skips step 1. For a smoke test anywhere:
#   DEVICE=cpu N_HML=40 N_KIT=20 N_EVAL=40 EPOCHS=1 SEEDS=0 LADDER="aug-light" EXTRA="" bash benchmarks/gpu_suite.sh
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
WORK=${WORK:-/tmp/mr-gpu}
RUN_SECONDS=${RUN_SECONDS:-420}
DEVICE=${DEVICE:-cuda}
N_HML=${N_HML:-2500} N_KIT=${N_KIT:-800} N_EVAL=${N_EVAL:-1700}
SEEDS=${SEEDS:-0 1 2}
LADDER=${LADDER:-baseline noise0.1 aug-light aug-full motpp-asis motpp-fixed}  # each with every seed in SEEDS
EXTRA=${EXTRA:-aug-offset teacher-floor}  # each with seed 0 only
SIZES=(--n-humanml3d "$N_HML" --n-kitml "$N_KIT" --n-eval "$N_EVAL")
[ -n "${EPOCHS:-}" ] && SIZES+=(--epochs "$EPOCHS")
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export MOTION_RETRIEVAL_TEXT_BACKBONE_DIR=${MOTION_RETRIEVAL_TEXT_BACKBONE_DIR:-$PWD/.device/minilm}
mkdir -p "$WORK/results" "$WORK/real" "$OUT"
if [ -f .device/bandai-namco-1.tar.xz ]; then
  tar xJf .device/bandai-namco-1.tar.xz -C "$WORK/real" && export MOTION_RETRIEVAL_REAL_MOCAP="$WORK/real/bandai-namco-1"
fi
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/timeline.txt"; }

{ nvidia-smi -L; nproc; python3 -c "import torch, numpy; print(torch.__version__, numpy.__version__, torch.cuda.get_device_name(0))"; } \
  > "$OUT/device.txt" 2>&1

stamp "towers + corpora"
towers=0
if [ -z "${SKIP_TOWERS:-}" ]; then
  timeout 150 python3 -m benchmarks.gpu_towers --presets paper cpu cpu-motpp --device "$DEVICE" --seconds 1 \
    > "$OUT/gpu_towers.json" 2> "$WORK/towers.log" &
  towers=$!
fi
corpus() {  # path dialect n seed variant
  python3 -c "from pathlib import Path; from experiments.common import corpus as c; c(Path('$1'), '$2', $3, $4, '$5')" \
    > "$WORK/corpus-$4.log" 2>&1
}
corpus "$WORK/synth-humanml3d-s1-n$N_HML" humanml3d "$N_HML" 1 train &
corpus "$WORK/synth-kitml-s2-n$N_KIT" kitml "$N_KIT" 2 train &
corpus "$WORK/synth-humanml3d-s3-n$N_EVAL" humanml3d "$N_EVAL" 3 train &
corpus "$WORK/synth-transfer-s4-n$N_EVAL" humanml3d "$N_EVAL" 4 transfer &
for job in $(jobs -p); do [ "$job" = "$towers" ] || wait "$job"; done
stamp "corpora done"

OMP_NUM_THREADS=8 python3 -m experiments.transfer --work "$WORK" "${SIZES[@]}" --prepare --device "$DEVICE" --quiet \
  > "$WORK/prepare.log" 2>&1
stamp "caption cache done ($?)"
[ "$towers" = 0 ] || wait "$towers"
stamp "towers done"

( while true; do tar czf "$OUT/results.tgz.tmp" -C "$WORK" results && mv "$OUT/results.tgz.tmp" "$OUT/results.tgz"; sleep 20; done ) &
packer=$!
runs=()
launch() {  # variant seed-index
  timeout "$RUN_SECONDS" python3 -m experiments.transfer --work "$WORK" "${SIZES[@]}" --only "$1" \
    --seed-indices "$2" --device "$DEVICE" --quiet > "$WORK/run-$1-$2.log" 2>&1 &
  runs+=($!)
}
for variant in $LADDER; do
  for seed in $SEEDS; do launch "$variant" "$seed"; done
done
for variant in $EXTRA; do launch "$variant" 0; done
stamp "${#runs[@]} runs launched"
for job in "${runs[@]}"; do wait "$job"; done
stamp "runs done"
kill "$packer" 2>/dev/null
tar czf "$OUT/results.tgz" -C "$WORK" results
python3 -m experiments.transfer --work "$WORK" "${SIZES[@]}" --table > "$OUT/transfer_table.md" 2> "$WORK/table.log"
for f in "$WORK"/run-*.log "$WORK"/prepare.log "$WORK"/towers.log; do echo "== $f"; tail -n 3 "$f"; done \
  > "$OUT/logs_tail.txt" 2>&1
stamp "all done"
