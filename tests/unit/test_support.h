#pragma once
// Helpers shared by the unit tests (header-only: every test_*.cpp is its own
// executable).
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

// POCKETLLM_TEST_ASAN: defined in AddressSanitizer builds (gcc and clang), where
// tests that measure memory or run long skip or shrink.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POCKETLLM_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define POCKETLLM_TEST_ASAN 1
#endif

namespace pocketllm::test_support {

// Whole file as bytes (stdio, not istreambuf_iterator: gcc 12 -O3 reports a
// false null dereference inside the latter).
inline std::string read_file_bytes(const std::string& path) {
  std::string bytes;
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return bytes;
  std::array<char, 65536> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) bytes.append(buffer.data(), n);
  std::fclose(file);
  return bytes;
}

inline std::vector<uint8_t> read_file_u8(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  return {bytes.begin(), bytes.end()};
}

inline std::string test_data_path(const std::string& relative) {
  return std::string(POCKETLLM_TEST_DATA_DIR) + "/" + relative;
}

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pocketllm_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int status = -1;  // exit status; -1 when killed by a signal or not run
  std::string out;
  std::string err;
};

// Runs the pocketllm binary with `args` (shell syntax) and collects its exit
// status, stdout and stderr. ctest runs tests in parallel processes, so the
// stderr file is unique per call.
// Runs a shell command; returns its stdout and sets `status` (its exit
// status, -1 when it could not run or was killed).
inline std::string command_output(const std::string& command, int& status) {
  std::string out;
  status = -1;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int wait_status = ::pclose(pipe);
  status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return out;
}

inline RunResult run_pocketllm(const std::string& args) {
  RunResult result;
  std::string err_path = (std::filesystem::temp_directory_path() / "pocketllm_stderr_XXXXXX").string();
  const int fd = ::mkstemp(err_path.data());
  if (fd < 0) return result;
  ::close(fd);
  result.out = command_output(std::string(POCKETLLM_BINARY) + " " + args + " 2>" + err_path, result.status);
  result.err = read_file_bytes(err_path);
  std::filesystem::remove(err_path);
  return result;
}

// tests/js: the npm reference implementations (installed by scripts/test.sh).
inline std::string js_dir() { return std::string(POCKETLLM_TEST_DATA_DIR) + "/../js"; }

// Whether node and node-llama-cpp are installed. A local build without them
// skips the llama.cpp comparisons; in CI (where scripts/test.sh always
// installs them) their absence is a failure.
inline bool llama_cpp_oracle_available() {
  if (std::filesystem::exists(js_dir() + "/node_modules/node-llama-cpp") &&
      std::system("node --version >/dev/null 2>&1") == 0) {
    return true;
  }
  if (std::getenv("CI") != nullptr) {
    ADD_FAILURE() << "node or tests/js/node_modules/node-llama-cpp is missing in CI: scripts/test.sh installs them";
  }
  return false;
}

#define POCKETLLM_REQUIRE_LLAMA_CPP_ORACLE()                         \
  if (!::pocketllm::test_support::llama_cpp_oracle_available())      \
  GTEST_SKIP() << "node-llama-cpp not installed (run scripts/test.sh, or npm ci --omit=optional in tests/js)"

// A JSON file under tests/data.
inline nlohmann::json load_test_json(const std::string& relative) {
  std::ifstream in(test_data_path(relative));
  EXPECT_TRUE(in.good()) << relative;
  return nlohmann::json::parse(in);
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The InputError message `f` throws, or "(no error)".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// A safetensors file: u64 little-endian header size + header + data. (Built
// as a string: GCC 12 at -O3 warns falsely about inserting into a small
// std::vector.)
inline std::vector<uint8_t> safetensors_bytes(const std::string& header,
                                              const std::string& data = "") {
  std::string file;
  for (size_t i = 0; i < 8; ++i) file.push_back(static_cast<char>(header.size() >> (8 * i)));
  file += header;
  file += data;
  return {file.begin(), file.end()};
}

}  // namespace pocketllm::test_support
