# Cross build for 64-bit Arm Linux with Debian's cross toolchain
# (g++-aarch64-linux-gnu, whose sysroot is /usr/aarch64-linux-gnu). Programs
# built for the target run under qemu-user (qemu-user-static), so ctest runs
# the unit tests as they are. Used with -DPOCKETLLM_KERNEL_TESTS_ONLY=ON
# (scripts/test.sh, stage "arm"): no target libraries beyond libc/libstdc++.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# Libraries and packages come from the target's sysroot only, tools from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# "-cpu max" offers every extension qemu emulates (dotprod, i8mm, SVE, ...),
# so the tests reach each runtime-dispatched kernel; -L finds the target's
# dynamic loader and shared libraries.
find_program(POCKETLLM_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${POCKETLLM_QEMU_AARCH64} -cpu max -L /usr/aarch64-linux-gnu)
