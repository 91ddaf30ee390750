#!/usr/bin/env bash
# Installs the Debian packages subq builds against (skips what is already there).
set -euo pipefail
packages=(cmake ninja-build g++ clang libclang-rt-14-dev catch2 libeigen3-dev nlohmann-json3-dev libcli11-dev
          libfmt-dev libbenchmark-dev libfftw3-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
