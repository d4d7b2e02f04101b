#!/usr/bin/env bash
# Runs every test project (setting up first when needed) and ends with one line: "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" || exit 1

log="$ROOT/.deps/test.log"
dotnet test "$ROOT/Gpt2Onnx.sln" -c Release --no-build --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Each test project prints "Passed!  - Failed: F, Passed: P, ..." (or "Failed!  - ...").
read -r passed failed < <(sed -nE 's/.*(Passed|Failed)! +- Failed: +([0-9]+), Passed: +([0-9]+).*/\3 \2/p' "$log" \
  | awk '{p += $1; f += $2} END {print p + 0, f + 0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run broke before a test could report (a build or host error): count it, never hide it
fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
