#!/usr/bin/env bash
# Installs what cfps needs to build and test on Debian 12, and nothing that is already there.
# Idempotent; safe to run as often as you like. CUDA/NCCL are optional and never installed here.
# Extra Debian packages may be named as arguments (launch/lint.sh: clang-format clang-tidy).
set -euo pipefail
PKGS="cmake g++ make libopenmpi-dev openmpi-bin libboost-program-options-dev libgtest-dev zlib1g-dev python3 python3-numpy $*"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install_deps: installing:$missing" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing ||
    { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q &&
      $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing; }
fi
