#!/usr/bin/env bash
# Installs what pocketllm needs, builds it (release) and runs the main job on
# the embedded default model: `pocketllm info`, then `pocketllm run` on a
# prompt. Extra arguments go to pocketllm instead, e.g.
# `scripts/run.sh info --json path/to/model.gguf`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages "${BUILD_PACKAGES[@]}"
BUILD_DIR="$POCKETLLM_ROOT/build/release"
configure_and_build "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPOCKETLLM_TESTS=OFF
if [[ $# -eq 0 ]]; then
  "$BUILD_DIR/pocketllm" info
  exec "$BUILD_DIR/pocketllm" run -p "Once upon a time" -n 64
fi
exec "$BUILD_DIR/pocketllm" "$@"
