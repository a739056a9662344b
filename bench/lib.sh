# Shared by the benchmark scripts in this folder: the build they measure and
# the random-weight model they run on. Brings in scripts/lib.sh
# (POCKETLLM_ROOT, die, build_jobs).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# build_when_missing DIR PROGRAM... [-- CMAKE_ARGS...]
# When a PROGRAM (a path under DIR, e.g. src/pocketllm) is missing, configures
# DIR (Ninja, Release, then CMAKE_ARGS) and builds the PROGRAMs' targets (the
# file names) only.
build_when_missing() {
  local dir="$1"; shift
  local programs=() targets=() missing=0 program
  while (( $# > 0 )) && [[ "$1" != -- ]]; do programs+=("$1"); shift; done
  (( $# > 0 )) && shift
  for program in "${programs[@]}"; do
    [[ -x "$dir/$program" ]] || missing=1
    targets+=("$(basename "$program")")
  done
  (( missing )) || return 0
  cmake -S "$POCKETLLM_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" \
    || die "cmake configure failed for $dir"
  cmake --build "$dir" -j "$(build_jobs)" --target "${targets[@]}" \
    || die "build failed in $dir"
}

# random_model_when_missing POCKETLLM MODEL PRESET TYPE SEED
# Writes MODEL with `pocketllm gen` (llama at PRESET's shapes, weights of
# TYPE, llama.cpp's SPM vocab) when it does not exist.
random_model_when_missing() {
  local pocketllm="$1" model="$2" preset="$3" type="$4" seed="$5"
  [[ -f "$model" ]] && return 0
  mkdir -p "$(dirname "$model")"
  "$pocketllm" gen --arch llama --preset "$preset" --type "$type" --seed "$seed" \
    --vocab "$POCKETLLM_ROOT/tests/data/tokenizer/llama-cpp-vocab/ggml-vocab-llama-spm.gguf" -o "$model"
}
