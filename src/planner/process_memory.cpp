#include "planner/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace pocketllm {

std::optional<uint64_t> peak_resident_bytes(const std::filesystem::path& root) {
  std::ifstream status(root / "proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    uint64_t kib = 0;
    std::string unit;
    if (!(fields >> kib >> unit) || unit != "kB") return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace pocketllm
