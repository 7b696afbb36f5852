#!/usr/bin/env bash
# Issue 7: the two-thread CPU reference used to hang forever (lost wakeup in its handshake) in about
# half of the fig4c runs at grid.spacing_um 0.005 (181 k cells, 192 000 steps). This runs that
# simulation RUNS times in a row (default 10), each under a time limit, and prints each run's time;
# a hung run shows as "TIMEOUT" and the script exits 1.
# Usage: bash bench/hang-check.sh   (RUNS, LIMIT_S (per run, default 3600), SPACING_UM to tune)
# One run takes ~4 min on a free 2-core machine, ~13 min when the cores are shared.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
limit_s=${LIMIT_S:-3600}
spacing=${SPACING_UM:-0.005}
out=$(mktemp -d "${TMPDIR:-/tmp}/ionflux-hang-check-XXXXXX")
trap 'rm -rf "$out"' EXIT
[ -f dist/cli.js ] || npm run build >/dev/null
failed=0
for k in $(seq 1 "$runs"); do
  t0=$(date +%s.%N)
  timeout --signal=KILL "$limit_s" node bin/ionflux.js simulate --preset fig4c --set grid.spacing_um="$spacing" \
    --backend cpu --quiet --out "$out/run$k" 2>"$out/stderr$k"
  rc=$?
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  if [ $rc -eq 137 ]; then status=TIMEOUT; failed=1
  elif [ $rc -ne 0 ]; then status="exit $rc: $(head -c 300 "$out/stderr$k")"; failed=1
  else status="ok, $(node -e "const s=require('$out/run$k/summary.json');process.stdout.write(s.stopReason+', '+s.steps+' steps, '+s.backend)")"
  fi
  printf 'run %2d/%d  %8.1f s  %s\n' "$k" "$runs" "$t" "$status"
  rm -rf "$out/run$k"
done
exit $failed
