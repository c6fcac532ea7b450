#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (H100/H200; see the device notes in the README). It runs from a
# plain checkout with the machine's own torch (the project is not pip-installed there) and writes every figure
# under $OUT as soon as it exists, so a run cut short still returns what it measured:
#   1. the procedural corpora (HumanML3D dialect seed 1 n 2500, KIT-ML dialect seed 2 n 800, fresh seed 3 n 1700),
#      generated in parallel on the machine's CPUs;
#   2. the default-model recipe (`cpu` preset, 12 epochs, joint training) on the GPU, checked on the fresh corpus;
#   3. the paper-shaped experiment grid (experiments/paper_table.py), its rows split over parallel processes;
#   4. training and inference throughput of the `cpu` and `paper` presets (benchmarks/model_throughput.py);
#   5. the trained run exported to TorchScript and the towers' GPU throughput in fp32 and fp16
#      (benchmarks/gpu_inference.py).
# The frozen MiniLM cannot be downloaded there and the shipped package is too big to carry: carry a half-precision
# copy in .device/minilm (README: "GPU figures") and point MOTION_RETRIEVAL_TEXT_BACKBONE_DIR at it.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
WORK=${WORK:-/tmp/mr-gpu}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=2
export MOTION_RETRIEVAL_TEXT_BACKBONE_DIR=${MOTION_RETRIEVAL_TEXT_BACKBONE_DIR:-$PWD/.device/minilm}
mkdir -p "$WORK" "$OUT"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/timeline.txt"; }

nvidia-smi -L > "$OUT/device.txt" 2>&1; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))" >> "$OUT/device.txt" 2>&1

synth() {  # out dialect n seed
  python3 -c "from motion_retrieval.synth.corpus import generate_corpus as g; g('$1', '$2', n=$3, seed=$4)" \
    > "$WORK/synth-$2-$4.log" 2>&1
}
stamp "corpora"
synth "$WORK/dm/synth-humanml3d-s1-n2500" humanml3d 2500 1 &
synth "$WORK/dm/synth-kitml-s2-n800" kitml 800 2 &
synth "$WORK/dm/synth-humanml3d-s3-n1700" humanml3d 1700 3 &
python3 -m benchmarks.model_throughput --device cuda --presets cpu paper --with-lm --json \
  > "$OUT/model_throughput.json" 2> "$WORK/throughput.log" &
throughput=$!
wait
stamp "corpora done"

stamp "default-model recipe + experiment grid"
python3 -m experiments.default_model --work "$WORK/dm" --out "$WORK/dm/shipped" --device cuda --json \
  > "$OUT/default_model.json" 2> "$WORK/default_model.log" &
recipe=$!
DATA=(--data "humanml3d=$WORK/dm/synth-humanml3d-s1-n2500" --data "kitml=$WORK/dm/synth-kitml-s2-n800")
part=0
for only in "humanml3d+kitml_MoT++" "humanml3d+kitml_MoT_ humanml3d+kitml_TMR" "humanml3d_"; do
  part=$((part + 1))
  # shellcheck disable=SC2086
  python3 -m experiments.paper_table "${DATA[@]}" --device cuda --only $only --work "$WORK/pt$part" \
    --out "$OUT/paper_table_$part.md" > "$WORK/pt$part.out" 2> "$WORK/pt$part.log" &
done
wait $recipe
stamp "default-model recipe done"

python3 - "$WORK/dm/shipped" "$WORK/repo" > "$WORK/export.log" 2>&1 <<'EOF'
import sys
from motion_retrieval.export.repository import export_run
print(export_run(sys.argv[1], sys.argv[2]).to_json())
EOF
stamp "export done ($?)"
python3 benchmarks/gpu_inference.py --repo "$WORK/repo" --device cuda --max-seconds 120 \
  > "$OUT/gpu_inference.json" 2> "$WORK/gpu_inference.log"
stamp "gpu inference done ($?)"
wait
stamp "all done"
tail -n 5 "$WORK"/*.log > "$OUT/logs_tail.txt" 2>&1
