#!/usr/bin/env bash
# The main job: sets up on first use, then runs the pipeline end to end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/gpt2-train" info
"$ROOT/scripts/gpt2-run" info
