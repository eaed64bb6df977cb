#!/usr/bin/env bash
# Formats every C# file with CSharpier (.csharpierrc.json: print width 140; the version is pinned in dotnet-tools.json).
# --check: change nothing, fail when a file is not formatted (what CI runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore > /dev/null
if [ "${1:-}" = "--check" ]; then
  dotnet csharpier check .
else
  dotnet csharpier format .
fi
