#!/usr/bin/env bash
# Installs what xlb needs on Debian 12 (as root), mounts bpffs, and builds.
#   tools/setup.sh            install + build into ./build (what a user runs)
#   tools/setup.sh --tests    the same for developers and CI: warnings are
#                             errors, the unit and bpf tests are also built
#                             under ASan+UBSan, and the packages the build
#                             tests use (clang-16, dpkg-dev) are installed
#   tools/setup.sh --bench    also what tools/bench/http_bench.py compares
#                             with (haproxy, nginx-light, wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=OFF
bench=OFF
for a in "$@"; do
  case "$a" in
    --tests) tests=ON ;;
    --bench) bench=ON ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "tools/setup.sh: unknown option '$a' (use --tests, --bench or nothing)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: run as root (it installs packages and mounts bpffs)" >&2
  exit 2
fi

PKGS=(
  build-essential cmake pkg-config clang llvm
  libbpf-dev libxdp-dev bpftool xdp-tools
  libssl-dev libcli11-dev libgtest-dev libgmock-dev libexpected-dev
  libasio-dev libyaml-cpp-dev nlohmann-json3-dev node-llhttp libmnl-dev libsystemd-dev
  iproute2 ethtool nftables curl python3 procps util-linux openssl
)
if [ "$tests" = ON ]; then
  PKGS+=(clang-16 dpkg-dev file systemd tcpdump)
fi
if [ "$bench" = ON ]; then
  PKGS+=(haproxy nginx-light wrk tcpdump)
fi
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

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXLB_WERROR="$tests" -DXLB_SANITIZER_TESTS="$tests" >/dev/null
cmake --build build -j"$(nproc)"
