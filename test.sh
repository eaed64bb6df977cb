#!/usr/bin/env bash
# Runs the whole test suite and ends with a line "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export THP_MEM_ALLOC_ENABLE=1
export GLIBC_TUNABLES="glibc.malloc.trim_threshold=17179869184:glibc.malloc.mmap_threshold=33554432"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results="$(mktemp -d)"
dotnet test "$root/tests/UltraMem.Tests/UltraMem.Tests.csproj" -c Release \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
rc=$?
trx="$(find "$results" -name '*.trx' | head -n 1)"
if [ -n "$trx" ]; then
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)"
  passed="$(printf '%s' "$counters" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')"
  failed="$(printf '%s' "$counters" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')"
  errors="$(printf '%s' "$counters" | grep -o ' error="[0-9]*"' | grep -o '[0-9]*')"
  failed=$(( ${failed:-0} + ${errors:-0} ))
else
  passed=0; failed=1
  echo "no test results were written (build or test host failure)" >&2
fi
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
rm -rf "$results"
echo "${passed:-0} passed, ${failed} failed"
[ "$failed" -eq 0 ]
