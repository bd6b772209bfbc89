#!/usr/bin/env bash
# The GPU table of issue 25 in one call (at most 8 minutes: GPU_BUDGET_S, default 470 s, each part cut off at
# it): keras-gan's DCGAN64 step on JAX (float32, mixed bfloat16) against the PyTorch peer tuned for the GPU,
# eager and under torch.compile, plus
# the per-layer convolution times (stock Keras vs keras-gan's forms) behind it. Runs on a machine with JAX and
# PyTorch but no TensorFlow; Keras comes as wheels in .whl/ (keras, namex, optree; see docs/gpu.md).
# Writes its JSON and logs to $OUT (or ./gpu-out). Usage: bash benchmarks/gpu.sh [quick]
# Parts run most important first, each under what is left of the budget (a part cut off keeps its log, and
# 'skipped' lines name the parts that did not run): the bfloat16 and float32 rows at batch 1024, batches 64 and
# 256, the per-layer table, then the stock-layers 'before' row.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
export KERAS_BACKEND=jax
if ls .whl/*.whl >/dev/null 2>&1 && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
steps=20
if [ "${1:-}" = quick ]; then  # a smoke run of the same commands (CPU: tiny case)
  case=smoke; big="16"; small="8"; steps=2; layers="--size 8 --channels 1 --base 4 --layers 2"
else
  case=dcgan64; big="1024"; small="64 256"; layers="--size 64 --channels 3 --base 64 --layers 4"
fi
(nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>/dev/null || true) | tee "$out/gpu.txt"
python3 - <<'PY' 2>&1 | tee -a "$out/gpu.txt"
import time
try:
    import torch
    if torch.cuda.is_available():
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        for _ in range(3): a @ a
        torch.cuda.synchronize(); t = time.perf_counter()
        for _ in range(10): a @ a
        torch.cuda.synchronize()
        print(f"bf16 8192^3 matmul: {10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12:.0f} TFLOP/s")
except Exception as err:
    print("no matmul figure:", err)
PY
budget="${GPU_BUDGET_S:-470}"
start=$SECONDS
part() {  # part NAME COMMAND...: runs COMMAND under the time left, logging to $out/NAME.log
  local name=$1; shift
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 30 ]; then
    echo "skipped $name: ${left}s of the ${budget}s budget left" | tee -a "$out/skipped.txt"
    return 0
  fi
  echo "== $name (${left}s left)"
  timeout -k 10 "$left" "$@" 2>&1 | tee "$out/$name.log"
  [ "${PIPESTATUS[0]}" -eq 124 ] && echo "cut off $name at the budget" | tee -a "$out/skipped.txt"
  return 0
}
bench=(python3 -m keras_gan.cli bench throughput --cases "$case" --steps "$steps" --repeats 1)
# 1. batch 1024, mixed bfloat16 then float32: keras-gan against the tuned peer, eager and compiled
part throughput_b1024_bf16 "${bench[@]}" --batch $big --frameworks keras-jax-bf16 torch-compile-bf16 torch-bf16 \
  --json "$out/throughput_b1024_bf16.json"
part throughput_b1024_fp32 "${bench[@]}" --batch $big --frameworks keras-jax torch-compile torch \
  --json "$out/throughput_b1024_fp32.json"
# 2. batch 64 and 256 against the tuned eager peer
part throughput_small "${bench[@]}" --batch $small --frameworks keras-jax-bf16 torch-bf16 keras-jax torch \
  --json "$out/throughput_small.json"
# 3. per-layer forward / input-gradient / kernel-gradient times, stock vs keras-gan's forms (the bf16 cliff)
part conv_forms python3 benchmarks/jax_conv_forms.py $layers --batch 256 512 $big --dtype bfloat16 --repeats 10 \
  --json "$out/conv_forms_bf16.json"
# 4. the before: stock Keras layers on JAX, bf16, batch 1024 (3.7k img/s on an H200 in issue 25)
part throughput_b1024_stock "${bench[@]}" --batch $big --frameworks keras-jax-bf16-plain \
  --json "$out/throughput_b1024_stock.json"
echo "gpu.sh: $((SECONDS - start)) s of the ${budget}s budget"
