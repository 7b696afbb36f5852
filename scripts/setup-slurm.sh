#!/bin/bash
# Install Debian's Slurm (slurmctld, slurmd, the clients) and munge for the Slurm integration test
# (test/cli/slurm.test.ts), leaving no daemon running: the test starts its own on 127.0.0.1 with a
# private slurm.conf (test/helpers/slurm.ts). Idempotent; needs root. Writes no slurm.conf.
#
# Why the care: Debian's munge postinst starts munged, and slurmctld's postinst runs
# `invoke-rc.d slurmctld start || exit 1`, which starts the controller on a machine that already has
# /etc/slurm/slurm.conf (docs: ../shared/SLURM.md, pitfall 4). For the length of the install a
# policy-rc.d that denies every start is put in place (only if the machine has none: a Docker image
# usually ships one already), and any daemon the install started anyway is stopped by its pid.
set -euo pipefail

PKGS=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-slurm: ${PKGS[*]} already installed"
  exit 0
fi

# pgrep -x takes one name at a time (a pattern over 15 characters never matches a process name)
daemons() { for d in munged slurmctld slurmd; do pgrep -x "$d" || true; done; }
before=$(daemons)
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from ionflux scripts/setup-slurm.sh: no service starts during the install\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  ours=1
fi
cleanup() { [ -z "$ours" ] || rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends "${missing[@]}"

# anything the install started despite the policy (a machine with its own init) is stopped again
for pid in $(daemons); do
  grep -qx "$pid" <<<"$before" || { echo "setup-slurm: stopping $(cat /proc/$pid/comm 2>/dev/null) (pid $pid) started by the install"; kill "$pid" || true; }
done
echo "setup-slurm: installed ${missing[*]} ($(slurmctld -V 2>/dev/null || echo 'slurmctld ?'))"
