// Memory probe over fake /proc + /sys trees (tests/data/probe/mem, one per
// cgroup layout; every figure below follows from the numbers in those files,
// see SOURCES.md), plus a live check against the sysinfo(2) system call.
#include <gtest/gtest.h>
#include <sys/sysinfo.h>

#include <optional>
#include <string>

#include "planner/memory_probe.h"
#include "util/error.h"

namespace pocketllm {
namespace {

const std::string kTrees = std::string(POCKETLLM_TEST_DATA_DIR) + "/probe/mem/";

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
// Every tree's meminfo: MemTotal 16384000 kB, MemAvailable 12000000 kB.
constexpr uint64_t kMemTotal = 16384000ull * 1024;
constexpr uint64_t kMemAvailable = 12000000ull * 1024;

struct ExpectedCgroup {
  int version;
  const char* directory;
  uint64_t limit;
  uint64_t usage;
  uint64_t inactive_file;
};

struct Case {
  const char* tree;
  uint64_t total;
  MemoryBound total_bound;
  uint64_t available;
  MemoryBound available_bound;
  std::optional<ExpectedCgroup> cgroup;
};

const Case kCases[] = {
    // v2 limit 4 GiB on the own cgroup (parent "max"); available =
    // 4 GiB - (1 GiB usage - 256 MiB inactive_file).
    {"cgroup_v2_limit", 4 * kGiB, MemoryBound::cgroup, 4 * kGiB - (1 * kGiB - 256 * kMiB), MemoryBound::cgroup,
     ExpectedCgroup{2, "/sys/fs/cgroup/app.slice/job.scope", 4 * kGiB, 1 * kGiB, 256 * kMiB}},
    {"cgroup_v2_max", kMemTotal, MemoryBound::physical, kMemAvailable, MemoryBound::physical, std::nullopt},
    // Parent 2 GiB (1.5 GiB used) under child 8 GiB (512 MiB used): the parent
    // bounds both figures. No mountinfo: found at the default mount place.
    {"cgroup_v2_nested", 2 * kGiB, MemoryBound::cgroup, 2 * kGiB - 1536 * kMiB, MemoryBound::cgroup,
     ExpectedCgroup{2, "/sys/fs/cgroup/app.slice", 2 * kGiB, 1536 * kMiB, 0}},
    // A 64 GiB limit on a 15.6 GiB machine: RAM bounds, the limit is still reported.
    {"cgroup_v2_above_physical", kMemTotal, MemoryBound::physical, kMemAvailable, MemoryBound::physical,
     ExpectedCgroup{2, "/sys/fs/cgroup/big.slice", 64 * kGiB, 1 * kGiB, 0}},
    // v1 limit 2 GiB, 1.5 GiB used, total_inactive_file 512 MiB (the
    // non-hierarchical inactive_file, 100 MiB, must not be used).
    {"cgroup_v1_limit", 2 * kGiB, MemoryBound::cgroup, 2 * kGiB - (1536 * kMiB - 512 * kMiB), MemoryBound::cgroup,
     ExpectedCgroup{1, "/sys/fs/cgroup/memory/docker/abc123", 2 * kGiB, 1536 * kMiB, 512 * kMiB}},
    // 9223372036854771712 at every level means no limit.
    {"cgroup_v1_unlimited", kMemTotal, MemoryBound::physical, kMemAvailable, MemoryBound::physical, std::nullopt},
    // Container without a cgroup namespace: the mount shows /docker/abc123
    // itself, so its limit sits at the mount point.
    {"cgroup_v1_container", 3 * kGiB, MemoryBound::cgroup, 2 * kGiB, MemoryBound::cgroup,
     ExpectedCgroup{1, "/sys/fs/cgroup/memory", 3 * kGiB, 1 * kGiB, 0}},
    {"no_cgroup", kMemTotal, MemoryBound::physical, kMemAvailable, MemoryBound::physical, std::nullopt},
};

class MemoryTrees : public testing::TestWithParam<Case> {};

TEST_P(MemoryTrees, EffectiveFigures) {
  const Case& c = GetParam();
  const SystemMemory memory = probe_system_memory(kTrees + c.tree);
  EXPECT_EQ(memory.physical_total_bytes, kMemTotal);
  EXPECT_EQ(memory.physical_available_bytes, kMemAvailable);
  EXPECT_EQ(memory.total_bytes, c.total);
  EXPECT_EQ(memory.total_bound, c.total_bound);
  EXPECT_EQ(memory.available_bytes, c.available);
  EXPECT_EQ(memory.available_bound, c.available_bound);
  ASSERT_EQ(memory.cgroup.has_value(), c.cgroup.has_value());
  if (c.cgroup) {
    EXPECT_EQ(memory.cgroup->version, c.cgroup->version);
    EXPECT_EQ(memory.cgroup->directory, c.cgroup->directory);
    EXPECT_EQ(memory.cgroup->limit_bytes, c.cgroup->limit);
    EXPECT_EQ(memory.cgroup->usage_bytes, c.cgroup->usage);
    EXPECT_EQ(memory.cgroup->inactive_file_bytes, c.cgroup->inactive_file);
  }

  const MemoryReport report = probe_memory(kTrees + c.tree);
  ASSERT_EQ(report.pools.size(), 1u);
  EXPECT_EQ(report.pools[0].name, "system");
  EXPECT_EQ(report.pools[0].kind, MemoryKind::system);
  EXPECT_EQ(report.pools[0].total_bytes, c.total);
  EXPECT_EQ(report.pools[0].available_bytes, c.available);
}

INSTANTIATE_TEST_SUITE_P(Probe, MemoryTrees, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& tree) { return std::string(tree.param.tree); });

TEST(MemoryProbe, JsonHasPlainIntegers) {
  const nlohmann::json json = to_json(probe_memory(kTrees + "cgroup_v2_limit"));
  const nlohmann::json expected = {
      {"system",
       {{"physical_total_bytes", 16777216000ull},
        {"physical_available_bytes", 12288000000ull},
        {"total_bytes", 4294967296ull},
        {"available_bytes", 3489660928ull},
        {"total_bound", "cgroup"},
        {"available_bound", "cgroup"},
        {"cgroup",
         {{"version", 2},
          {"directory", "/sys/fs/cgroup/app.slice/job.scope"},
          {"limit_bytes", 4294967296ull},
          {"usage_bytes", 1073741824ull},
          {"inactive_file_bytes", 268435456ull}}}}},
      {"pools", {{{"name", "system"}, {"kind", "system"}, {"total_bytes", 4294967296ull},
                  {"available_bytes", 3489660928ull}}}},
  };
  EXPECT_EQ(json, expected);
  EXPECT_TRUE(json["system"]["total_bytes"].is_number_unsigned());
  EXPECT_EQ(json.dump().find("e+"), std::string::npos);  // never floating point
  EXPECT_TRUE(to_json(probe_memory(kTrees + "no_cgroup"))["system"]["cgroup"].is_null());
}

TEST(MemoryProbe, TextNamesTheLimit) {
  EXPECT_EQ(format_memory_text(probe_memory(kTrees + "cgroup_v2_limit")),
            "Memory: total 4.0 GiB, available 3.3 GiB "
            "(cgroup v2 limit 4.0 GiB at /sys/fs/cgroup/app.slice/job.scope, 1.0 GiB in use)\n");
  EXPECT_EQ(format_memory_text(probe_memory(kTrees + "no_cgroup")),
            "Memory: total 15.6 GiB, available 11.4 GiB (no cgroup limit)\n");
  EXPECT_EQ(format_memory_text(probe_memory(kTrees + "cgroup_v2_above_physical")),
            "Memory: total 15.6 GiB, available 11.4 GiB "
            "(physical RAM; cgroup v2 limit 64.0 GiB at /sys/fs/cgroup/big.slice is higher)\n");
}

TEST(MemoryProbe, TextListsDevicePools) {
  MemoryReport report = probe_memory(kTrees + "no_cgroup");
  report.pools.push_back(MemoryPool{"Intel Arc 140V", MemoryKind::device, 28 * kGiB + 570 * kMiB, 20 * kGiB});
  EXPECT_EQ(format_memory_text(report),
            "Memory: total 15.6 GiB, available 11.4 GiB (no cgroup limit)\n"
            "  Intel Arc 140V (device): total 28.6 GiB, available 20.0 GiB\n");
  EXPECT_EQ(to_json(report)["pools"][1]["kind"], "device");
}

TEST(MemoryProbe, FormatsSizes) {
  EXPECT_EQ(format_memory_size(0), "0 B");
  EXPECT_EQ(format_memory_size(1023), "1023 B");
  EXPECT_EQ(format_memory_size(1536), "1.5 KiB");
  EXPECT_EQ(format_memory_size(512 * kMiB), "512.0 MiB");
  EXPECT_EQ(format_memory_size(kGiB - 1), "1024.0 MiB");
  EXPECT_EQ(format_memory_size(24683620ull * 1024), "23.5 GiB");
  EXPECT_EQ(format_memory_size(UINT64_MAX), "17179869184.0 GiB");
}

TEST(MemoryProbe, MissingMemAvailableIsAnInputError) {
  try {
    probe_system_memory(kTrees + "bad_no_memavailable");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), kTrees + "bad_no_memavailable/proc/meminfo: no MemAvailable line");
  }
}

TEST(MemoryProbe, MalformedLimitIsAnInputError) {
  try {
    probe_system_memory(kTrees + "bad_memory_max");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              kTrees + "bad_memory_max/sys/fs/cgroup/job.scope/memory.max: expected a byte count or 'max', got 'lots'");
  }
}

TEST(MemoryProbe, MissingMeminfoIsAnInputError) {
  EXPECT_THROW(probe_system_memory(kTrees + "does_not_exist"), InputError);
}

TEST(MemoryProbeLive, AgreesWithSysinfo) {
  const SystemMemory memory = probe_system_memory();
  struct sysinfo info {};
  ASSERT_EQ(sysinfo(&info), 0);
  // The kernel fills MemTotal and sysinfo's totalram from the same page count.
  EXPECT_EQ(memory.physical_total_bytes, uint64_t{info.totalram} * info.mem_unit);
  EXPECT_GT(memory.total_bytes, 0u);
  EXPECT_LE(memory.total_bytes, memory.physical_total_bytes);
  EXPECT_LE(memory.available_bytes, memory.total_bytes);
  EXPECT_LE(memory.available_bytes, memory.physical_available_bytes);
  const MemoryReport report = probe_memory();
  ASSERT_FALSE(report.pools.empty());
  EXPECT_EQ(report.pools[0].kind, MemoryKind::system);
}

}  // namespace
}  // namespace pocketllm
