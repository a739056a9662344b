#pragma once
// How much memory this process may use: physical RAM from /proc/meminfo,
// capped by the cgroup (v1 or v2) limits of the process and every ancestor
// cgroup, because a container's limit, not the host's RAM, is where the OOM
// killer strikes. The filesystem root is a parameter so that tests can point
// the probe at fake /proc and /sys trees.
//
// The planner reads a list of pools; system RAM is the first, and GPU
// backends append their device heaps to the same list later.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pocketllm {

enum class MemoryKind { system, device };

// One heap that weights, KV cache and activations can be placed in.
struct MemoryPool {
  std::string name;  // "system" for RAM; a device name for GPU heaps
  MemoryKind kind = MemoryKind::system;
  uint64_t total_bytes = 0;      // what this process may ever use
  uint64_t available_bytes = 0;  // what it may use now without evicting others
};

// The cgroup level (the process's own cgroup or an ancestor) whose memory
// limit is the lowest. Figures as read from that level's files.
struct CgroupMemoryLimit {
  int version = 2;            // 1 or 2
  std::string directory;      // e.g. "/sys/fs/cgroup/user.slice" (without the probe root)
  uint64_t limit_bytes = 0;   // memory.max / memory.limit_in_bytes
  uint64_t usage_bytes = 0;   // memory.current / memory.usage_in_bytes
  uint64_t inactive_file_bytes = 0;  // reclaimable page cache, from memory.stat
};

// Which figure bounded a total or an available size.
enum class MemoryBound { physical, cgroup };

struct SystemMemory {
  uint64_t physical_total_bytes = 0;      // MemTotal
  uint64_t physical_available_bytes = 0;  // MemAvailable
  // Lowest finite limit among the process's cgroups; absent when none is set.
  std::optional<CgroupMemoryLimit> cgroup;
  // min(MemTotal, lowest cgroup limit)
  uint64_t total_bytes = 0;
  MemoryBound total_bound = MemoryBound::physical;
  // min(MemAvailable, and for each limited cgroup level: limit minus its
  // working set, usage - inactive_file, as the kubelet and `docker stats`
  // count it: inactive page cache is reclaimed before the OOM killer runs).
  uint64_t available_bytes = 0;
  MemoryBound available_bound = MemoryBound::physical;
};

struct MemoryReport {
  SystemMemory system;
  std::vector<MemoryPool> pools;  // [0] is system RAM; device heaps follow
};

// Reads <root>/proc/meminfo, <root>/proc/self/cgroup, <root>/proc/self/mountinfo
// (to find where the cgroup hierarchies are mounted; the usual places under
// /sys/fs/cgroup when it is missing) and the cgroup memory files.
// Throws InputError naming the file when meminfo lacks MemTotal/MemAvailable
// or a cgroup file holds something other than a number (or "max").
SystemMemory probe_system_memory(const std::filesystem::path& root = "/");

// The system pool that a SystemMemory describes.
MemoryPool system_memory_pool(const SystemMemory& system);

// probe_system_memory plus the pool list (system RAM only, for now).
MemoryReport probe_memory(const std::filesystem::path& root = "/");

// {"system": {"physical_total_bytes", "physical_available_bytes", "total_bytes",
//             "available_bytes", "total_bound": "physical"|"cgroup",
//             "available_bound", "cgroup": null | {"version", "directory",
//             "limit_bytes", "usage_bytes", "inactive_file_bytes"}},
//  "pools": [{"name", "kind": "system"|"device", "total_bytes", "available_bytes"}]}
// Byte counts are plain JSON integers.
nlohmann::json to_json(const MemoryReport& report);

// "Memory: total 23.5 GiB, available 23.3 GiB (no cgroup limit)\n", the
// parenthesis naming the cgroup limit when one applies; then one line per
// device pool.
std::string format_memory_text(const MemoryReport& report);

// "23.5 GiB", "512.0 MiB", "900 B": one decimal, binary units.
std::string format_memory_size(uint64_t bytes);

}  // namespace pocketllm
