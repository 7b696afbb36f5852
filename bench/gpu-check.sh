#!/usr/bin/env bash
# The GPU check, for a lent machine with a real GPU (../shared/RUNTIME.md, last section): one run of a
# few minutes that writes its figures as files, the device named in each.
#   here:      bash ../shared/gpu/prepare-carry.sh          (packs node, node_modules and the build)
#   on the GPU: bash .device/on-device.sh bash bench/gpu-check.sh
# OUT (the device tool's result folder) defaults to bench/results/. Each bench row says which adapter
# ran it; a software adapter's rows are ratios only (the bench header says so).
set -euo pipefail
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
stamp=$(date -u +%Y-%m-%d)
# Each case has its own time limit; together they stay under 5 minutes (290 s plus start-up).
run() { # name, bench --only pattern, seconds
  echo "== $1 (limit $3 s)"
  timeout "$3" node bin/ionflux.js bench --backend gpu --only "$2" --json "$OUT/$stamp-gpu-$1.json" || echo "== $1 failed (exit $?)"
}
run step-host 'gpu step host' 70      # host µs per step (steps counted on the GPU vs phased by the host, 4 per dispatch), steps per dispatch, steps/s at 32²–1024² vs the CPU reference, 16×16 vs 32×32-cell tiles (1 vs 2 cells per invocation)
run diffusion-step 'diffusion step' 120   # Mcell/s, time per step and effective bandwidth at 256²/1024²/4096², 1, 4 and 8 steps per dispatch, vs CPU and NumPy
run batch 'gpu batch' 50              # per-lane time per step, 64 fig4c lanes batched vs one after another
run sweep sweep-throughput 50         # fig4c simulations per second: shell loop, CPU pool, GPU 1 lane, GPU batched
