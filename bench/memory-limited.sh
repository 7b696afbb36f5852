#!/usr/bin/env bash
# Streams a movie larger than the memory the process may use: runs the analyze peak-memory case
# inside a memory cgroup (page cache included) smaller than the movie. Needs root and a cgroup
# memory controller (v1 or v2). Usage: bash bench/memory-limited.sh [JSON]  (LIMIT_MIB, GB to tune)
set -euo pipefail
cd "$(dirname "$0")/.."
limit_mib=${LIMIT_MIB:-1792}
gb=${GB:-2}
if [ -d /sys/fs/cgroup/memory ]; then
  cg=/sys/fs/cgroup/memory/ionflux-bench; mkdir -p "$cg"; echo $((limit_mib * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
else
  cg=/sys/fs/cgroup/ionflux-bench; mkdir -p "$cg"; echo $((limit_mib * 1024 * 1024)) > "$cg/memory.max"
fi
echo "ionflux: memory limit ${limit_mib} MiB for a ${gb} GiB movie" >&2
sh -c "echo \$\$ > $cg/cgroup.procs; exec env IONFLUX_BENCH_LARGE=1 IONFLUX_BENCH_LARGE_GB=$gb node bin/ionflux.js bench --backend cpu --only analyze-peak --json ${1:-bench-memory.json}"
