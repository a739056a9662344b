#!/usr/bin/env bash
# Installs what the tests need, then builds and runs every test in two
# configurations: release with gcc (warnings are errors), and `asan` with
# clang (ASan + UBSan over the whole suite, plus the libFuzzer targets run for
# a bounded time over their seed corpora). Between them, `arm` cross-compiles
# the CPU kernel tests for aarch64 (NEON, NEON dotprod, NEON i8mm) and runs
# them under qemu-user.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${ARM_TEST_PACKAGES[@]}"
install_npm_test_packages

FUZZ_SECONDS="${POCKETLLM_FUZZ_SECONDS:-60}"
RELEASE_DIR="$POCKETLLM_ROOT/build/test-release"
ASAN_DIR="$POCKETLLM_ROOT/build/test-asan"
ARM_DIR="$POCKETLLM_ROOT/build/test-arm"

echo "== release (gcc, -Werror)"
configure_and_build "$RELEASE_DIR" -DCMAKE_BUILD_TYPE=Release -DPOCKETLLM_WERROR=ON \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
ctest --test-dir "$RELEASE_DIR" --output-on-failure -j "$(nproc)" \
  || die "tests failed in the release configuration"

echo "== arm (aarch64 cross build of the kernel tests, -Werror, run under qemu-user)"
arm_start=$SECONDS
configure_and_build "$ARM_DIR" -DCMAKE_BUILD_TYPE=Release -DPOCKETLLM_WERROR=ON \
  -DCMAKE_TOOLCHAIN_FILE="$POCKETLLM_ROOT/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DPOCKETLLM_KERNEL_TESTS_ONLY=ON
ctest --test-dir "$ARM_DIR" --output-on-failure -j "$(nproc)" \
  || die "tests failed in the arm configuration"
echo "arm: built and tested in $((SECONDS - arm_start)) s"

echo "== asan (clang, ASan + UBSan, -Werror, fuzzers ${FUZZ_SECONDS}s each)"
configure_and_build "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLLM_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPOCKETLLM_SANITIZE=ON -DPOCKETLLM_FUZZ=ON -DPOCKETLLM_FUZZ_SECONDS="$FUZZ_SECONDS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$(nproc)" \
  || die "tests failed in the asan configuration"

echo "pocketllm: all tests passed (release, arm and asan)"
