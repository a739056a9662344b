#include "planner/memory_probe.h"

#include <charconv>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "util/error.h"
#include "util/text_file.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

// cgroup v1 writes "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712
// with 4 KiB pages, other values with larger pages); nothing real is this big.
constexpr uint64_t kCgroupV1Unlimited = uint64_t{1} << 62;

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// A cgroup file holding one byte count, or "max" (v2: no limit) -> nullopt.
// A missing file is nullopt as well: not every level has every file.
std::optional<uint64_t> read_cgroup_bytes(const fs::path& path) {
  const auto text = read_text_file(path);
  if (!text) return std::nullopt;
  const std::string_view value = trim(*text);
  if (value == "max") return std::nullopt;
  const auto bytes = parse_u64(value);
  if (!bytes) throw InputError(fmt::format("{}: expected a byte count or 'max', got '{}'", path.string(), value));
  return bytes;
}

// One "key value" line of a cgroup memory.stat; 0 when absent.
uint64_t read_memory_stat(const fs::path& path, std::string_view key) {
  const auto text = read_text_file(path);
  if (!text) return 0;
  for (const std::string_view line : lines_of(*text)) {
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.substr(0, space) != key) continue;
    const auto value = parse_u64(trim(line.substr(space + 1)));
    if (!value) throw InputError(fmt::format("{}: key '{}': expected a byte count", path.string(), key));
    return *value;
  }
  return 0;
}

// MemTotal and MemAvailable ("MemTotal:       24683620 kB"), in bytes.
struct Meminfo {
  uint64_t total = 0;
  uint64_t available = 0;
};

Meminfo read_meminfo(const fs::path& root) {
  const fs::path path = root / "proc/meminfo";
  const auto text = read_text_file(path);
  if (!text) throw InputError(fmt::format("{}: cannot read", path.string()));
  std::optional<uint64_t> total, available;
  for (const std::string_view line : lines_of(*text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    if (key != "MemTotal" && key != "MemAvailable") continue;
    std::string_view value = trim(line.substr(colon + 1));
    if (!value.ends_with(" kB")) throw InputError(fmt::format("{}: key '{}': expected a size in kB", path.string(), key));
    value.remove_suffix(3);
    const auto kib = parse_u64(trim(value));
    if (!kib || *kib > UINT64_MAX / 1024) {
      throw InputError(fmt::format("{}: key '{}': expected a size in kB", path.string(), key));
    }
    (key == "MemTotal" ? total : available) = *kib * 1024;
  }
  if (!total) throw InputError(fmt::format("{}: no MemTotal line", path.string()));
  if (!available) throw InputError(fmt::format("{}: no MemAvailable line", path.string()));
  return {*total, *available};
}

// Where one cgroup hierarchy is mounted: the mount point, and which cgroup
// of the hierarchy appears there (not "/" inside some containers).
struct CgroupMount {
  std::string mount_point;  // e.g. "/sys/fs/cgroup/memory"
  std::string mount_root;   // e.g. "/" or "/docker/<id>"
};

// From /proc/self/mountinfo:
// "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
//  id parent dev root mount-point options [optional...] - fstype source super-options
std::optional<CgroupMount> find_cgroup_mount(std::string_view mountinfo, int version) {
  for (const std::string_view line : lines_of(mountinfo)) {
    const size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const std::vector<std::string_view> fields = split(line.substr(0, dash), ' ');
    const std::vector<std::string_view> tail = split(line.substr(dash + 3), ' ');
    if (fields.size() < 5 || tail.size() < 3) continue;
    const bool match = version == 2 ? tail[0] == "cgroup2" : tail[0] == "cgroup" && [&] {
      for (const std::string_view option : split(tail[2], ',')) {
        if (option == "memory") return true;
      }
      return false;
    }();
    if (match) return CgroupMount{std::string(fields[4]), std::string(fields[3])};
  }
  return std::nullopt;
}

// The process's cgroup path in one hierarchy, from /proc/self/cgroup lines
// "hierarchy-id:controllers:path" ("0::/path" for v2, "4:memory:/path" for v1).
std::optional<std::string> find_cgroup_path(std::string_view proc_self_cgroup, int version) {
  for (const std::string_view line : lines_of(proc_self_cgroup)) {
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (version == 2 && id == "0" && controllers.empty()) return path;
    if (version == 1) {
      for (const std::string_view controller : split(controllers, ',')) {
        if (controller == "memory") return path;
      }
    }
  }
  return std::nullopt;
}

// Directories of the process's cgroup and each ancestor up to the mount
// point, innermost first, as absolute paths without the probe root.
std::vector<std::string> cgroup_levels(const CgroupMount& mount, const std::string& cgroup_path,
                                       const fs::path& root) {
  // The part of our cgroup path below the cgroup shown at the mount point;
  // if ours is not below it, only the mount point itself is visible.
  std::string_view below = cgroup_path;
  if (mount.mount_root != "/") {
    const bool inside = below.starts_with(mount.mount_root) &&
                        (below.size() == mount.mount_root.size() || below[mount.mount_root.size()] == '/');
    below = inside ? below.substr(mount.mount_root.size()) : std::string_view{};
  }
  std::vector<std::string> parts;
  for (const std::string_view part : split(below, '/')) {
    if (!part.empty()) parts.emplace_back(part);
  }
  std::string base = mount.mount_point;
  while (base.size() > 1 && base.back() == '/') base.pop_back();

  std::vector<std::string> levels;
  for (size_t depth = parts.size() + 1; depth-- > 0;) {
    std::string dir = base;
    for (size_t i = 0; i < depth; ++i) dir += "/" + parts[i];
    std::error_code ec;
    // Directories we cannot see (a host path inside a container) are skipped.
    if (fs::is_directory(root / fs::path(dir).relative_path(), ec)) levels.push_back(std::move(dir));
  }
  return levels;
}

// Every level of one hierarchy that sets a finite limit.
std::vector<CgroupMemoryLimit> read_cgroup_limits(const fs::path& root, int version, std::string_view proc_self_cgroup,
                                                  const std::optional<std::string>& mountinfo) {
  const auto cgroup_path = find_cgroup_path(proc_self_cgroup, version);
  if (!cgroup_path) return {};
  std::optional<CgroupMount> mount;
  if (mountinfo) {
    mount = find_cgroup_mount(*mountinfo, version);
  } else if (version == 1) {
    mount = CgroupMount{"/sys/fs/cgroup/memory", "/"};
  } else {
    // Unified-only systems mount v2 at /sys/fs/cgroup, hybrid ones below it.
    std::error_code ec;
    const bool unified_only = fs::exists(root / "sys/fs/cgroup/cgroup.controllers", ec);
    mount = CgroupMount{unified_only ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", "/"};
  }
  if (!mount) return {};

  const char* limit_file = version == 2 ? "memory.max" : "memory.limit_in_bytes";
  const char* usage_file = version == 2 ? "memory.current" : "memory.usage_in_bytes";
  // v2 memory.stat counts the subtree; v1 needs the "total_" (hierarchical) keys.
  const char* inactive_key = version == 2 ? "inactive_file" : "total_inactive_file";

  std::vector<CgroupMemoryLimit> limits;
  for (std::string& dir : cgroup_levels(*mount, *cgroup_path, root)) {
    const fs::path on_disk = root / fs::path(dir).relative_path();
    const auto limit = read_cgroup_bytes(on_disk / limit_file);
    if (!limit || (version == 1 && *limit >= kCgroupV1Unlimited)) continue;
    CgroupMemoryLimit level;
    level.version = version;
    level.directory = std::move(dir);
    level.limit_bytes = *limit;
    // Without a usage figure the whole limit counts as headroom.
    level.usage_bytes = read_cgroup_bytes(on_disk / usage_file).value_or(0);
    level.inactive_file_bytes = read_memory_stat(on_disk / "memory.stat", inactive_key);
    limits.push_back(std::move(level));
  }
  return limits;
}

uint64_t headroom(const CgroupMemoryLimit& level) {
  const uint64_t working_set =
      level.usage_bytes > level.inactive_file_bytes ? level.usage_bytes - level.inactive_file_bytes : 0;
  return level.limit_bytes > working_set ? level.limit_bytes - working_set : 0;
}

std::string_view bound_name(MemoryBound bound) { return bound == MemoryBound::cgroup ? "cgroup" : "physical"; }

}  // namespace

SystemMemory probe_system_memory(const fs::path& root) {
  const Meminfo meminfo = read_meminfo(root);
  SystemMemory memory;
  memory.physical_total_bytes = meminfo.total;
  memory.physical_available_bytes = meminfo.available;
  memory.total_bytes = meminfo.total;
  memory.available_bytes = meminfo.available;

  // Hybrid systems can list both hierarchies; every level of both is a cap.
  const std::string proc_self_cgroup = read_text_file(root / "proc/self/cgroup").value_or("");
  const auto mountinfo = read_text_file(root / "proc/self/mountinfo");
  std::vector<CgroupMemoryLimit> levels = read_cgroup_limits(root, 2, proc_self_cgroup, mountinfo);
  for (CgroupMemoryLimit& level : read_cgroup_limits(root, 1, proc_self_cgroup, mountinfo)) {
    levels.push_back(std::move(level));
  }

  for (const CgroupMemoryLimit& level : levels) {
    if (!memory.cgroup || level.limit_bytes < memory.cgroup->limit_bytes) memory.cgroup = level;
    if (level.limit_bytes < memory.total_bytes) {
      memory.total_bytes = level.limit_bytes;
      memory.total_bound = MemoryBound::cgroup;
    }
    if (headroom(level) < memory.available_bytes) {
      memory.available_bytes = headroom(level);
      memory.available_bound = MemoryBound::cgroup;
    }
  }
  return memory;
}

MemoryPool system_memory_pool(const SystemMemory& system) {
  return MemoryPool{"system", MemoryKind::system, system.total_bytes, system.available_bytes};
}

MemoryReport probe_memory(const fs::path& root) {
  MemoryReport report;
  report.system = probe_system_memory(root);
  report.pools.push_back(system_memory_pool(report.system));
  return report;
}

nlohmann::json to_json(const MemoryReport& report) {
  const SystemMemory& s = report.system;
  nlohmann::json cgroup = nullptr;
  if (s.cgroup) {
    cgroup = {{"version", s.cgroup->version},
              {"directory", s.cgroup->directory},
              {"limit_bytes", s.cgroup->limit_bytes},
              {"usage_bytes", s.cgroup->usage_bytes},
              {"inactive_file_bytes", s.cgroup->inactive_file_bytes}};
  }
  nlohmann::json pools = nlohmann::json::array();
  for (const MemoryPool& pool : report.pools) {
    pools.push_back({{"name", pool.name},
                     {"kind", pool.kind == MemoryKind::system ? "system" : "device"},
                     {"total_bytes", pool.total_bytes},
                     {"available_bytes", pool.available_bytes}});
  }
  return {{"system",
           {{"physical_total_bytes", s.physical_total_bytes},
            {"physical_available_bytes", s.physical_available_bytes},
            {"total_bytes", s.total_bytes},
            {"available_bytes", s.available_bytes},
            {"total_bound", bound_name(s.total_bound)},
            {"available_bound", bound_name(s.available_bound)},
            {"cgroup", std::move(cgroup)}}},
          {"pools", std::move(pools)}};
}

std::string format_memory_size(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = kKiB * 1024;
  constexpr uint64_t kGiB = kMiB * 1024;
  const auto one_decimal = [](uint64_t value, uint64_t unit) {
    // Rounded to tenths in integers: doubles cannot hold every uint64.
    const uint64_t tenths = value / unit * 10 + (value % unit * 10 + unit / 2) / unit;
    return fmt::format("{}.{}", tenths / 10, tenths % 10);
  };
  if (bytes >= kGiB) return one_decimal(bytes, kGiB) + " GiB";
  if (bytes >= kMiB) return one_decimal(bytes, kMiB) + " MiB";
  if (bytes >= kKiB) return one_decimal(bytes, kKiB) + " KiB";
  return fmt::format("{} B", bytes);
}

std::string format_memory_text(const MemoryReport& report) {
  const SystemMemory& s = report.system;
  std::string note;
  if (!s.cgroup) {
    note = "no cgroup limit";
  } else if (s.total_bound == MemoryBound::cgroup) {
    note = fmt::format("cgroup v{} limit {} at {}, {} in use", s.cgroup->version,
                       format_memory_size(s.cgroup->limit_bytes), s.cgroup->directory,
                       format_memory_size(s.cgroup->usage_bytes));
  } else {
    note = fmt::format("physical RAM; cgroup v{} limit {} at {} is higher", s.cgroup->version,
                       format_memory_size(s.cgroup->limit_bytes), s.cgroup->directory);
  }
  std::string out = fmt::format("Memory: total {}, available {} ({})\n", format_memory_size(s.total_bytes),
                                format_memory_size(s.available_bytes), note);
  for (size_t i = 1; i < report.pools.size(); ++i) {
    const MemoryPool& pool = report.pools[i];
    out += fmt::format("  {} ({}): total {}, available {}\n", pool.name,
                       pool.kind == MemoryKind::system ? "system" : "device", format_memory_size(pool.total_bytes),
                       format_memory_size(pool.available_bytes));
  }
  return out;
}

}  // namespace pocketllm
