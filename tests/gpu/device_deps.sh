#!/usr/bin/env bash
# The build dependencies the device machine may lack, carried there as Debian packages.
#
# The device machine (tests/gpu/device_check.sh) is a CUDA image with nvcc, CMake and ninja but
# possibly without Open MPI, Boost.Program_options and GoogleTest, and it cannot fetch anything.
# Run this here, on the development machine (Debian 12, with apt), once:
#
#     bash tests/gpu/device_deps.sh          # downloads about 18 MB of .deb files into .devdeps/
#
# then name `.devdeps` in the device tool's `carry` list. device_check.sh unpacks them (dpkg -x, no
# installation) into /tmp/devroot only when the machine has no MPI compiler wrapper or no Boost
# headers of its own, and points PATH, LD_LIBRARY_PATH, CMAKE_PREFIX_PATH and OPAL_PREFIX (Open
# MPI's relocation) there. `.devdeps/` is ignored by git (.git/info/exclude), never committed.
# The list: Open MPI 4.1 with its runtime libraries and transports, Boost 1.74's headers and
# program_options, GoogleTest/GoogleMock; not libc or libstdc++ (the machine's own are used).
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES=(
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libucx0
  libibverbs1 ibverbs-providers librdmacm1 libpsm-infinipath1 libpsm2-2 libnl-3-200
  libnl-route-3-200 libnuma1 libmunge2 libatomic1
  libboost1.74-dev libboost-program-options1.74.0 libboost-program-options1.74-dev
  libgtest-dev libgmock-dev
)
grep -qx '/.devdeps/' .git/info/exclude 2>/dev/null || echo '/.devdeps/' >> .git/info/exclude
mkdir -p .devdeps
cd .devdeps
# apt-get download runs as _apt where it can; a root-owned directory only gets a warning.
apt-get download "${PACKAGES[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
count=$(ls ./*.deb 2>/dev/null | wc -l)
[ "$count" -ge "${#PACKAGES[@]}" ] || { echo "device_deps: only $count of ${#PACKAGES[@]} packages" >&2; exit 1; }
echo "device_deps: $count packages, $(du -sh . | cut -f1) in .devdeps/ (carry it: carry=[\".devdeps\"])"
