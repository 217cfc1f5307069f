#!/usr/bin/env bash
# The README's first command: install what is missing, build, generate the embedded demo data set
# (MovieLens-100K-shaped) and train it under mpirun with 1 server rank and 2 worker ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install_deps.sh
bash launch/build.sh
. launch/env.sh
mkdir -p out
build/cfps gen --users 943 --items 1682 --ratings 100000 --seed 42 --out out/demo.data
mpirun -np 3 build/cfps train --ps 1 --data out/demo.data --metrics-out out/metrics.jsonl \
  --export out/model "$@"
