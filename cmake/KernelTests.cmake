# POCKETLLM_KERNEL_TESTS_ONLY: the CPU kernels (matmul, quantization, ops,
# attention, thread pool, CPU probing) as the library pocketllm_kernels, and
# only the unit tests that need nothing else. This is what the Arm cross build
# (cmake/toolchains/aarch64-linux-gnu.cmake) compiles and runs under qemu-user:
# it needs no library built for the target. fmt is used header-only,
# nlohmann_json is header-only, and GoogleTest is built from the sources that
# Debian's libgtest-dev ships in /usr/src/googletest.
# Besides src/backends/cpu, what its headers and the tests below reach (the KV
# pool is an AnonymousMemory).
set(POCKETLLM_KERNEL_EXTRA_SOURCES
  formats/ggml_types.cpp formats/gguf.cpp util/mapped_file.cpp util/text_file.cpp util/anonymous_memory.cpp
  kv/kv_quant_formats.cpp kv/paged_kv_cache.cpp kv/prefix_cache.cpp
  engine/forward_batch.cpp model/model_desc.cpp
  # Rope settings from HF configs (test_cpu_ops).
  model/model_desc_hf.cpp model/architectures.cpp formats/json_file.cpp)
# The tests in tests/unit that link pocketllm_kernels alone.
set(POCKETLLM_KERNEL_TESTS test_matmul test_quant_formats test_cpu_ops test_thread_pool
  test_cpu_info test_ggml_types test_kv_quant_formats test_paged_attention)

file(GLOB_RECURSE kernel_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/backends/cpu/*.cpp)
foreach(source ${POCKETLLM_KERNEL_EXTRA_SOURCES})
  list(APPEND kernel_sources ${PROJECT_SOURCE_DIR}/src/${source})
endforeach()

find_package(fmt QUIET)
if(NOT fmt_FOUND)
  # Debian's fmt headers (/usr/include, which its cross compilers search) in
  # header-only mode: no libfmt built for the target is needed.
  add_library(pocketllm_fmt_header_only INTERFACE)
  target_compile_definitions(pocketllm_fmt_header_only INTERFACE FMT_HEADER_ONLY)
  add_library(fmt::fmt ALIAS pocketllm_fmt_header_only)
endif()

add_library(pocketllm_kernels STATIC ${kernel_sources})
target_include_directories(pocketllm_kernels PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(pocketllm_kernels PUBLIC fmt::fmt Threads::Threads)
pocketllm_warnings(pocketllm_kernels)

find_package(GTest QUIET)
if(NOT GTest_FOUND)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  # Defines GTest::gtest and GTest::gtest_main.
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  # gcc 12 -O3 reports a false -Wrestrict inside gtest.cc's UrlEncode.
  target_compile_options(gtest PRIVATE -Wno-restrict)
endif()
