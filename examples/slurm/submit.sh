#!/bin/bash
# Submits an ionflux sweep to Slurm: an array of TASKS shards, then the merge, which starts when every
# task has succeeded (and is cancelled, not left pending, if one fails). Prints the two job ids.
# Running it again with the same SPEC, OUT and TASKS resumes: finished runs are kept, only the rest
# is computed, and the merge is redone.
#
#   examples/slurm/submit.sh SPEC OUT [TASKS] [sbatch options for the array…] [-- ionflux sweep options…]
#
#   examples/slurm/submit.sh spec.json results 8
#   examples/slurm/submit.sh spec.json results 8 --partition=long --time=08:00:00
#   examples/slurm/submit.sh spec.json results 4 --partition=gpu --gres=gpu:1 -- --backend gpu
#
# TASKS defaults to 4. Options for both jobs (account, QOS, …): the usual SBATCH_ACCOUNT,
# SBATCH_QOS … environment variables; options for the merge alone: MERGE_SBATCH_ARGS="--partition=…".
# Logs go to OUT/logs/. IONFLUX_CMD: see sweep-array.sbatch. Works with bash >= 4.2.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }
[ $# -ge 2 ] || usage
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
spec=$1 out=$2
shift 2
tasks=4
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then tasks=$1; shift; fi
[ "$tasks" -ge 1 ] || { echo "submit.sh: TASKS must be at least 1 (got $tasks)" >&2; exit 1; }
array_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do array_args+=("$1"); shift; done
[ $# -eq 0 ] || shift # the --
[ -f "$spec" ] || { echo "submit.sh: spec file '$spec' not found" >&2; exit 1; }
command -v sbatch >/dev/null || { echo "submit.sh: sbatch not found (load the Slurm module, or run this on a login node)" >&2; exit 2; }

# absolute paths: the jobs may start in another folder
SPEC=$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")
# the folders this script creates, removed again (if still empty) when the array is not submitted
made=()
d="$out/logs"
while [ ! -d "$d" ]; do made=("$d" ${made[@]+"${made[@]}"}); d=$(dirname "$d"); done
mkdir -p "$out/logs" # sbatch does not create the folder of --output; a job whose log cannot be opened fails
OUT=$(cd "$out" && pwd)
export SPEC OUT

read -r -a merge_args <<<"${MERGE_SBATCH_ARGS:-}"
if ! jid=$(sbatch --parsable --export=ALL --array="0-$((tasks - 1))" --output="$OUT/logs/sweep-%A_%a.out" \
  ${array_args[@]+"${array_args[@]}"} "$here/sweep-array.sbatch" "$@"); then
  for ((i = ${#made[@]} - 1; i >= 0; i--)); do rmdir "${made[$i]}" 2>/dev/null || true; done
  echo "submit.sh: sbatch refused the array job (its message is above); nothing was submitted" >&2
  exit 2
fi
jid=${jid%%;*} # "id;cluster" on a multi-cluster site
if ! mid=$(sbatch --parsable --export=ALL --dependency="afterok:$jid" --kill-on-invalid-dep=yes \
  --output="$OUT/logs/merge-%j.out" ${merge_args[@]+"${merge_args[@]}"} "$here/merge.sbatch"); then
  # the array runs and keeps its shards (a sweep resumes them); only the merge is missing
  echo "submit.sh: the array job $jid ($tasks tasks) is submitted, but sbatch refused the merge job (its message is above): when the array has finished, run: ionflux sweep merge $OUT/shard-* --out $OUT/merged (or scancel $jid)" >&2
  exit 2
fi
mid=${mid%%;*}
echo "array job: $jid ($tasks tasks) -> $OUT/shard-0 … shard-$((tasks - 1))"
echo "merge job: $mid (after all tasks succeed) -> $OUT/merged"
echo "watch: squeue -j $jid,$mid    logs: $OUT/logs/"
