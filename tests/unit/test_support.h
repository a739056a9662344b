#pragma once
// Helpers shared by the unit tests (header-only: every test_*.cpp is its own
// executable).
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

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
inline RunResult run_pocketllm(const std::string& args) {
  RunResult result;
  std::string err_path = (std::filesystem::temp_directory_path() / "pocketllm_stderr_XXXXXX").string();
  const int fd = ::mkstemp(err_path.data());
  if (fd < 0) return result;
  ::close(fd);
  const std::string command = std::string(POCKETLLM_BINARY) + " " + args + " 2>" + err_path;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe != nullptr) {
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
    const int wait_status = ::pclose(pipe);
    result.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  }
  result.err = read_file_bytes(err_path);
  std::filesystem::remove(err_path);
  return result;
}

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
