#!/usr/bin/env bash
# Install vktrain's build and test dependencies (Debian 12 packages).
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  zlib1g-dev libjansson-dev libcmocka-dev
  libvulkan-dev libvulkan-volk-dev glslang-tools libzstd-dev libsodium-dev
  mesa-vulkan-drivers vulkan-validationlayers
  dataset-fashion-mnist
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
