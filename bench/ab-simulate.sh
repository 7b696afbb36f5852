#!/usr/bin/env bash
# Wall time of `ionflux simulate` for two builds, alternated sample by sample, with medians — how the
# one-change-at-a-time figures of docs/performance.md ("2026-12-03") were measured. Each folder is
# a checkout with `npm run build` done (e.g. `git worktree add /tmp/old <commit>`, node_modules
# linked, built). With OLD = "npx", the second folder is timed through `npx ionflux` as well as
# through node (the "under 1 s through npx"; run it from that folder).
#   bench/ab-simulate.sh OLD_DIR NEW_DIR ROUNDS -- SIMULATE ARGS…
#   bench/ab-simulate.sh /tmp/old . 10 -- --preset fig4c --backend cpu
#   bench/ab-simulate.sh npx . 10 -- --preset fig4c --backend cpu
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  echo "usage: bench/ab-simulate.sh OLD_DIR|npx NEW_DIR ROUNDS -- SIMULATE ARGS… (see the comment at the top)" >&2
  exit 2
fi
old=$1 new=$2 rounds=$3
shift 4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # label, command…
  local label=$1; shift
  rm -rf "$out/o"
  local s e; s=$(date +%s%N); "$@" --out "$out/o" --quiet >/dev/null 2>&1; e=$(date +%s%N)
  echo "$label $(( (e - s) / 1000000 ))"
}
for _ in $(seq 1 "$rounds"); do
  if [ "$old" = npx ]; then (cd "$new" && run npx npx ionflux simulate "$@"); else run old node "$old/bin/ionflux.js" simulate "$@"; fi
  run new node "$new/bin/ionflux.js" simulate "$@"
done | awk '{ v[$1] = v[$1] " " $2 } END { for (k in v) { n = split(v[k], a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2; printf "%-4s median %d ms, min %d, max %d (%d runs)\n", k, m, a[1], a[n], n } }'
