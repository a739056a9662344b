// CPU probe: SIMD features checked against the kernel's own cpuinfo flags on
// the live machine (an independent reading of CPUID and XCR0), cache sizes
// against glibc's sysconf (another independent CPUID decoder), and topology,
// caches and Arm features on fake /proc + /sys trees in tests/data/probe/cpu.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "backends/cpu/cpu_info.h"
#include "util/error.h"

namespace pocketllm {
namespace {

const std::string kTrees = std::string(POCKETLLM_TEST_DATA_DIR) + "/probe/cpu/";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The first "flags" (x86) or "Features" (Arm) line of the live
// /proc/cpuinfo, read here without the code under test.
[[maybe_unused]] std::set<std::string> live_kernel_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0 && line.rfind("Features", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string word; words >> word;) flags.insert(word);
    return flags;
  }
  return {};
}

[[maybe_unused]] std::string live_cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::string value = line.substr(line.find(':') + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    return value;
  }
  return {};
}

// Each feature with the kernel's flag name for it.
struct NamedFeature {
  const char* kernel_flag;
  bool SimdFeatures::*field;
};
[[maybe_unused]] constexpr NamedFeature kX86Features[] = {
    {"avx2", &SimdFeatures::avx2},
    {"fma", &SimdFeatures::fma},
    {"f16c", &SimdFeatures::f16c},
    {"avx512f", &SimdFeatures::avx512f},
    {"avx512bw", &SimdFeatures::avx512bw},
    {"avx512vl", &SimdFeatures::avx512vl},
    {"avx512vbmi", &SimdFeatures::avx512vbmi},
    {"avx512_vnni", &SimdFeatures::avx512_vnni},
    {"avx512_bf16", &SimdFeatures::avx512_bf16},
    {"avx_vnni", &SimdFeatures::avx_vnni},
    {"amx_tile", &SimdFeatures::amx_tile},
    {"amx_int8", &SimdFeatures::amx_int8},
    {"amx_bf16", &SimdFeatures::amx_bf16},
};
[[maybe_unused]] constexpr NamedFeature kArmFeatures[] = {
    {"asimd", &SimdFeatures::neon},
    {"asimddp", &SimdFeatures::dotprod},
    {"i8mm", &SimdFeatures::i8mm},
    {"sve", &SimdFeatures::sve},
};

TEST(CpuInfoLive, CpuidFeaturesMatchKernelFlags) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#else
  const std::set<std::string> flags = live_kernel_flags();
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const SimdFeatures simd = simd_features_from_cpuid();
  for (const NamedFeature& f : kX86Features) {
    EXPECT_EQ(simd.*f.field, flags.count(f.kernel_flag) == 1) << f.kernel_flag;
  }
  for (const NamedFeature& f : kArmFeatures) EXPECT_FALSE(simd.*f.field) << f.kernel_flag;
  EXPECT_EQ(probe_cpu().simd, simd);
#endif
}

TEST(CpuInfoLive, HwcapFeaturesMatchKernelFlags) {
#if !defined(__aarch64__)
  GTEST_SKIP() << "aarch64 only";
#else
  if (live_cpuinfo_field("Features").empty()) {
    GTEST_SKIP() << "/proc/cpuinfo is not an Arm kernel's (qemu-user passes the host's through)";
  }
  const std::set<std::string> flags = live_kernel_flags();
  ASSERT_FALSE(flags.empty()) << "no Features line in /proc/cpuinfo";
  const SimdFeatures simd = simd_features_from_hwcap();
  for (const NamedFeature& f : kArmFeatures) {
    EXPECT_EQ(simd.*f.field, flags.count(f.kernel_flag) == 1) << f.kernel_flag;
  }
  EXPECT_EQ(probe_cpu().simd, simd);
#endif
}

TEST(CpuInfoLive, VendorAndModelMatchKernel) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#else
  EXPECT_EQ(cpu_vendor_from_cpuid(), live_cpuinfo_field("vendor_id"));
  const CpuInfo cpu = probe_cpu();
  EXPECT_EQ(cpu.vendor, live_cpuinfo_field("vendor_id"));
  // The kernel's name, as lscpu shows it. (The CPUID brand string can differ
  // from it: the kernel reads it once at boot, and a VM restored from a
  // snapshot on another host answers CPUID with that host's string.)
  EXPECT_EQ(cpu.model_name, live_cpuinfo_field("model name"));
  EXPECT_EQ(cpu.arch, "x86_64");
  const std::string brand = cpu_brand_from_cpuid();
  ASSERT_FALSE(brand.empty());
  EXPECT_NE(brand.front(), ' ');  // CPUID pads the 48 bytes with spaces or NULs
  EXPECT_NE(brand.back(), ' ');
  EXPECT_EQ(brand.find('\0'), std::string::npos);
#endif
}

TEST(CpuInfoLive, CpuidCacheSizesMatchGlibc) {
#if !defined(__x86_64__) || !defined(__GLIBC__)
  GTEST_SKIP() << "x86-64 glibc only";
#else
  const CacheSizes caches = cache_sizes_from_cpuid();
  const long glibc[] = {sysconf(_SC_LEVEL1_DCACHE_SIZE), sysconf(_SC_LEVEL2_CACHE_SIZE), sysconf(_SC_LEVEL3_CACHE_SIZE)};
  const uint64_t ours[] = {caches.l1d, caches.l2, caches.l3};
  int compared = 0;
  for (int level = 0; level < 3; ++level) {
    if (glibc[level] <= 0) continue;  // glibc does not know this level either
    EXPECT_EQ(ours[level], static_cast<uint64_t>(glibc[level])) << "cache level index " << level;
    ++compared;
  }
  if (compared == 0) GTEST_SKIP() << "glibc reports no cache sizes here";
#endif
}

TEST(CpuInfoLive, ThreadCountMatchesSysconf) {
  const CpuInfo cpu = probe_cpu();
  EXPECT_EQ(cpu.logical_cpus, static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_GE(cpu.physical_cores, 1u);
  EXPECT_LE(cpu.physical_cores, cpu.logical_cpus);
}

TEST(Cpuinfo, ParsesX86Sample) {
  // This machine's /proc/cpuinfo at the time of writing (2 vCPUs of an AMD EPYC).
  const CpuinfoText info = parse_cpuinfo(read_file(kTrees + "x86_cpuinfo_only/proc/cpuinfo"));
  EXPECT_EQ(info.vendor, "AuthenticAMD");
  EXPECT_EQ(info.model_name, "AMD EPYC");
  EXPECT_EQ(info.processors, 2u);
  const std::vector<std::pair<unsigned, unsigned>> cores{{0, 0}, {0, 1}};
  EXPECT_EQ(info.cores, cores);
  ASSERT_FALSE(info.flags.empty());
  EXPECT_EQ(info.flags.front(), "fpu");
  EXPECT_EQ(info.flags.back(), "avx512_vp2intersect");

  SimdFeatures expected;
  expected.avx2 = expected.fma = expected.f16c = true;
  expected.avx512f = expected.avx512bw = expected.avx512vl = expected.avx512vbmi = true;
  expected.avx512_vnni = expected.avx512_bf16 = expected.avx_vnni = true;
  EXPECT_EQ(simd_features_from_flags(info.flags), expected);
}

TEST(Cpuinfo, ParsesArmSample) {
  const CpuinfoText info = parse_cpuinfo(read_file(kTrees + "arm_neoverse_v1/proc/cpuinfo"));
  EXPECT_EQ(info.vendor, "ARM");             // CPU implementer 0x41
  EXPECT_EQ(info.model_name, "Neoverse-V1");  // CPU part 0xd40
  EXPECT_EQ(info.processors, 4u);
  EXPECT_TRUE(info.cores.empty());  // Arm cpuinfo has no core ids

  const SimdFeatures simd = simd_features_from_flags(info.flags);
  SimdFeatures expected;
  expected.neon = expected.dotprod = expected.i8mm = expected.sve = true;
  EXPECT_EQ(simd, expected);
  const std::vector<std::string_view> names{"asimd", "asimddp", "i8mm", "sve"};
  EXPECT_EQ(simd_feature_names(simd), names);
}

TEST(Cpuinfo, UnknownArmPartIsNamedByNumber) {
  const CpuinfoText info = parse_cpuinfo("processor\t: 0\nCPU implementer\t: 0x61\nCPU part\t: 0x022\n");
  EXPECT_EQ(info.vendor, "Apple");
  EXPECT_EQ(info.model_name, "Apple part 0x022");
}

TEST(SimdFlags, SubstringsOfAFlagDoNotCount) {
  // "avx512_vnni" must not imply "avx512f"; "svei8mm" is not "i8mm" or "sve".
  const SimdFeatures simd = simd_features_from_flags({"avx512_vnni", "svei8mm", "sve2"});
  SimdFeatures expected;
  expected.avx512_vnni = true;
  EXPECT_EQ(simd, expected);
}

TEST(CpuFiles, ArmTree) {
  const CpuInfo cpu = read_cpu_info_from_files(kTrees + "arm_neoverse_v1");
  EXPECT_EQ(cpu.logical_cpus, 4u);
  EXPECT_EQ(cpu.physical_cores, 4u);
  EXPECT_EQ(cpu.caches, (CacheSizes{64 * 1024, 1024 * 1024, 32 * 1024 * 1024}));
  const nlohmann::json expected = {
      {"arch", ""},
      {"vendor", "ARM"},
      {"model_name", "Neoverse-V1"},
      {"logical_cpus", 4},
      {"physical_cores", 4},
      {"simd", {"asimd", "asimddp", "i8mm", "sve"}},
      {"caches", {{"l1d_bytes", 65536}, {"l2_bytes", 1048576}, {"l3_bytes", 33554432}}},
  };
  EXPECT_EQ(to_json(cpu), expected);
  EXPECT_TRUE(to_json(cpu)["caches"]["l3_bytes"].is_number_unsigned());
  EXPECT_EQ(format_cpu_text(cpu),
            "CPU: Neoverse-V1 (ARM) — 4 physical cores, 4 threads\n"
            "  SIMD: asimd asimddp i8mm sve; caches L1d 64 KiB, L2 1 MiB, L3 32 MiB\n");
}

TEST(CpuFiles, SmtSingleSocketCountsCoresNotThreads) {
  // 4 logical CPUs: cpu0/cpu2 share core 0, cpu1/cpu3 share core 1.
  const std::string root = kTrees + "smt_1socket";
  EXPECT_EQ(count_physical_cores_sysfs(root), 2u);
  const CpuInfo cpu = read_cpu_info_from_files(root);
  EXPECT_EQ(cpu.logical_cpus, 4u);
  EXPECT_EQ(cpu.physical_cores, 2u);
  // index0 48K Data, index1 32K Instruction (ignored), index2 2048K, index3 32768K.
  EXPECT_EQ(cpu.caches, (CacheSizes{49152, 2097152, 33554432}));
}

TEST(CpuFiles, SmtTwoSocketsCoreIdsRepeatPerPackage) {
  // Core ids 0 and 1 exist in both packages: 4 cores, 8 threads.
  const std::string root = kTrees + "smt_2socket";
  EXPECT_EQ(count_physical_cores_sysfs(root), 4u);
  EXPECT_EQ(read_cpu_info_from_files(root).logical_cpus, 8u);
  EXPECT_EQ(read_cache_sizes_sysfs(root), CacheSizes{});
}

TEST(CpuFiles, CpuinfoOnlyFallsBackToCoreIds) {
  const CpuInfo cpu = read_cpu_info_from_files(kTrees + "x86_cpuinfo_only");
  EXPECT_EQ(cpu.logical_cpus, 2u);
  EXPECT_EQ(cpu.physical_cores, 2u);
  EXPECT_EQ(cpu.caches, CacheSizes{});
  EXPECT_EQ(cpu.vendor, "AuthenticAMD");
  EXPECT_TRUE(cpu.simd.avx512_bf16);
}

TEST(CpuFiles, EmptyRootKnowsNothing) {
  const CpuInfo cpu = read_cpu_info_from_files(kTrees + "does_not_exist");
  EXPECT_EQ(cpu.logical_cpus, 0u);
  EXPECT_EQ(cpu.physical_cores, 0u);
  EXPECT_EQ(cpu.simd, SimdFeatures{});
  EXPECT_EQ(format_cpu_text(cpu),
            "CPU: unknown model — 0 physical cores, 0 threads\n  SIMD: none detected; caches unknown\n");
}

TEST(SysfsSize, ParsesKernelSizes) {
  EXPECT_EQ(parse_sysfs_size("48K\n", "x"), 49152u);
  EXPECT_EQ(parse_sysfs_size("2048K", "x"), 2097152u);
  EXPECT_EQ(parse_sysfs_size("32768K", "x"), 33554432u);
  EXPECT_EQ(parse_sysfs_size("1M", "x"), 1048576u);
  EXPECT_EQ(parse_sysfs_size("512", "x"), 512u);
}

TEST(SysfsSize, RejectsMalformedSizes) {
  for (const char* bad : {"", "K", "12Q", "-1K", "0x10K", "4.5M", "99999999999999999999K"}) {
    EXPECT_THROW(parse_sysfs_size(bad, "index0/size"), InputError) << bad;
  }
  try {
    parse_sysfs_size("12Q", "cpu0/cache/index0/size");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "cpu0/cache/index0/size: expected a size like '48K', got '12Q'");
  }
}

TEST(CpuList, CountsRanges) {
  EXPECT_EQ(count_cpu_list("0-3,8,10-11\n", "online"), 7u);
  EXPECT_EQ(count_cpu_list("0", "online"), 1u);
  EXPECT_EQ(count_cpu_list("\n", "offline"), 0u);
  for (const char* bad : {"3-1", "a", "0-", ",", "0,,1", "0-4294967295"}) {
    EXPECT_THROW(count_cpu_list(bad, "online"), InputError) << bad;
  }
}

}  // namespace
}  // namespace pocketllm
