#!/usr/bin/env bash
# Lint: clang-format (.clang-format) and clang-tidy (.clang-tidy) over the tracked C++ sources, as
# STYLE.md asks; exits 1 naming what to fix, 0 when both are clean. Installs the two tools when
# missing and configures BUILD (default build/) when it has no compile_commands.json.
# CUDA sources are formatted but not tidied: clang-tidy 14 does not parse CUDA 13's headers.
#   bash launch/lint.sh             both checks (clang-tidy takes a few minutes on 2 cores)
#   FORMAT_ONLY=1 bash launch/lint.sh
#   clang-format -i FILE...          what fixes a formatting finding
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bash launch/install_deps.sh clang-format clang-tidy
mapfile -t sources < <(git ls-files '*.cc' '*.h' '*.cu')
status=0

if ! clang-format --dry-run -Werror "${sources[@]}" 2> /tmp/cfps-lint-format.$$; then
  grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error)' /tmp/cfps-lint-format.$$ | cut -d: -f1 | sort |
    uniq -c | awk '{print "lint: clang-format: " $2 " is not formatted (" $1 " places)"}' >&2
  echo "lint: fix with: clang-format -i FILE..." >&2
  status=1
fi
rm -f /tmp/cfps-lint-format.$$
if [ "${FORMAT_ONLY:-0}" = 1 ]; then
  [ "$status" = 0 ] && echo "lint: clang-format clean (${#sources[@]} files)"
  exit "$status"
fi

if [ ! -f "$BUILD/compile_commands.json" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
# The translation units of the build, C++ only, that git tracks.
mapfile -t units < <(python3 - "$BUILD/compile_commands.json" <<'PY'
import json, os, subprocess, sys
tracked = set(subprocess.check_output(["git", "ls-files"], text=True).split())
root = os.getcwd()
for entry in json.load(open(sys.argv[1])):
    path = os.path.relpath(os.path.join(entry["directory"], entry["file"]), root)
    if path.endswith(".cc") and path in tracked:
        print(path)
PY
)
log=$(mktemp)
printf '%s\n' "${units[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$BUILD" --quiet > "$log" 2> /dev/null || true
findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log" | sort -u || true)
rm -f "$log"
if [ -n "$findings" ]; then
  echo "$findings" | sed 's/^/lint: /' >&2
  echo "lint: clang-tidy: $(echo "$findings" | wc -l) finding(s) in ${#units[@]} translation units" >&2
  status=1
else
  echo "lint: clang-format and clang-tidy clean (${#sources[@]} files, ${#units[@]} translation units)"
fi
exit "$status"
