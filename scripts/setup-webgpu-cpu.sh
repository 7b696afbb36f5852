#!/bin/bash
# Copy of ../shared/gpu/setup-webgpu-cpu.sh, for machines without the shared folder (a user's own Debian 12).
# Install a CPU Vulkan driver that Dawn (npm 'webgpu') accepts: Mesa >= 25 lavapipe from bookworm-backports.
# Idempotent; needs root. Uses the same Debian archive URI the machine is already configured with.
set -euo pipefail
policy=$(apt-cache policy mesa-vulkan-drivers 2>/dev/null || true)
if ! grep -q 'bookworm-backports' <<<"$policy"; then
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
    > /etc/apt/sources.list.d/bookworm-backports.sources
  apt-get update
fi
# only mesa-vulkan-drivers + libdrm* are upgraded; GL/EGL Mesa stays at 22.3.6
apt-get install -y --no-install-recommends mesa-vulkan-drivers/bookworm-backports libvulkan1
