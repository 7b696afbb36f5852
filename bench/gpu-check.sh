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
run() { # name, bench --only pattern
  echo "== $1"
  timeout 240 node bin/ionflux.js bench --backend gpu --only "$2" --json "$OUT/$stamp-gpu-$1.json" || echo "== $1 failed (exit $?)"
}
run diffusion-step 'diffusion step'   # Mcell/s of the WGSL step against the CPU reference and NumPy
run batch 'gpu batch'                 # per-lane time per step, 64 fig4c lanes batched vs one after another
run sweep sweep-throughput            # fig4c simulations per second: shell loop, CPU pool, GPU 1 lane, GPU batched
