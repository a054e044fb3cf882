#!/usr/bin/env bash
# Installs what xlb needs on Debian 12 (as root), mounts bpffs, and builds.
#   tools/setup.sh            install + build into ./build
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: run as root (it installs packages and mounts bpffs)" >&2
  exit 2
fi

PKGS=(
  build-essential cmake pkg-config clang llvm
  libbpf-dev libxdp-dev bpftool xdp-tools
  libssl-dev libcli11-dev libgtest-dev libgmock-dev
  libasio-dev libyaml-cpp-dev nlohmann-json3-dev node-llhttp libmnl-dev
  iproute2 ethtool nftables curl python3 procps util-linux openssl
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
