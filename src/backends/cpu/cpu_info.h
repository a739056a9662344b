#pragma once
// What the CPU offers the kernels: model, cores, SIMD extensions and cache
// sizes. On x86 the SIMD set comes from CPUID plus the OS's XCR0 (a unit the
// kernel does not save on a context switch is unusable even if the CPU has
// it); on Arm from the kernel's HWCAPs. Topology and caches come from sysfs,
// whose root is a parameter so that tests can point it at fake trees.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pocketllm {

// SIMD extensions the kernels may dispatch on; each is true only when both
// the CPU and the OS support it. Names follow the kernel's cpuinfo flags.
struct SimdFeatures {
  // x86
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vbmi = false;  // vpermb / vpermt2b (byte permutes)
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  bool avx_vnni = false;
  bool amx_tile = false;  // AMX needs arch_prctl(ARCH_REQ_XCOMP_PERM) before use
  bool amx_int8 = false;
  bool amx_bf16 = false;
  // Arm (aarch64 names; "neon" is asimd)
  bool neon = false;
  bool dotprod = false;  // SDOT/UDOT ("asimddp")
  bool i8mm = false;     // SMMLA/UMMLA
  bool sve = false;

  bool operator==(const SimdFeatures&) const = default;
};

// The kernel's cpuinfo flag name of each feature that is present, in the
// order of the struct above (e.g. "avx2", "avx512_vnni", "asimd", "asimddp").
std::vector<std::string_view> simd_feature_names(const SimdFeatures& simd);

// Features named in a cpuinfo "flags" (x86) or "Features" (Arm) list.
// Unknown names are ignored.
SimdFeatures simd_features_from_flags(const std::vector<std::string>& flags);

// Size of one cache as seen by CPU 0, in bytes; 0 when unknown.
struct CacheSizes {
  uint64_t l1d = 0;
  uint64_t l2 = 0;
  uint64_t l3 = 0;

  bool operator==(const CacheSizes&) const = default;
};

struct CpuInfo {
  std::string arch;        // "x86_64", "aarch64", ...
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", "ARM", ...
  std::string model_name;  // "AMD EPYC 9654 96-Core Processor", "Neoverse-V1", ...
  unsigned logical_cpus = 0;    // online hardware threads
  unsigned physical_cores = 0;  // distinct (package, core) pairs
  SimdFeatures simd;
  CacheSizes caches;
};

// What one /proc/cpuinfo text says (all processors together).
struct CpuinfoText {
  std::string vendor;      // x86 "vendor_id", or Arm "CPU implementer" by name
  std::string model_name;  // x86 "model name", or Arm "CPU part" by name
  std::vector<std::string> flags;  // first processor's "flags" / "Features"
  unsigned processors = 0;         // number of "processor" entries
  // Distinct ("physical id", "core id") pairs; empty on Arm, which has none.
  std::vector<std::pair<unsigned, unsigned>> cores;
};
CpuinfoText parse_cpuinfo(std::string_view text);

// Parses a sysfs size such as "48K", "2048K", "32768K", "1M" or "512" into bytes.
// Throws InputError (naming `where`) on anything else.
uint64_t parse_sysfs_size(std::string_view text, std::string_view where);

// Parses a sysfs CPU list such as "0-3,8,10-11" into its number of CPUs.
// Throws InputError (naming `where`) on a malformed list.
unsigned count_cpu_list(std::string_view text, std::string_view where);

// Distinct (physical_package_id, core_id) pairs over
// <root>/sys/devices/system/cpu/cpuN/topology; 0 if there is no topology.
unsigned count_physical_cores_sysfs(const std::filesystem::path& root);

// L1d / L2 / L3 of cpu0 from <root>/sys/devices/system/cpu/cpu0/cache/index*/.
// Levels not found stay 0.
CacheSizes read_cache_sizes_sysfs(const std::filesystem::path& root);

// Everything that files under `root` say (/proc/cpuinfo and sysfs), with no
// CPUID or HWCAP: the Arm path, and the testable part of the x86 path.
// `arch` stays empty (it is the running kernel's, set by probe_cpu).
CpuInfo read_cpu_info_from_files(const std::filesystem::path& root);

// x86 only: features from CPUID with OS support from XGETBV; vendor and brand
// string; cache sizes from CPUID leaf 4 (Intel) or 0x8000001D / 0x80000005-6
// (AMD). Elsewhere these return empty values.
SimdFeatures simd_features_from_cpuid();
CacheSizes cache_sizes_from_cpuid();
std::string cpu_vendor_from_cpuid();
std::string cpu_brand_from_cpuid();

// aarch64 Linux only: features from getauxval(AT_HWCAP / AT_HWCAP2).
// Elsewhere all false.
SimdFeatures simd_features_from_hwcap();

// The machine this runs on: files under "/", then CPUID (x86) or HWCAP (Arm)
// for the SIMD set, CPUID for cache levels sysfs does not list, and the CPUID
// brand string when /proc/cpuinfo has no model name.
CpuInfo probe_cpu();

// {"arch", "vendor", "model_name", "logical_cpus", "physical_cores",
//  "simd": ["avx2", ...], "caches": {"l1d_bytes", "l2_bytes", "l3_bytes"}}
nlohmann::json to_json(const CpuInfo& cpu);

// Two lines, e.g.
// "CPU: AMD EPYC (AuthenticAMD, x86_64) — 2 physical cores, 2 threads\n"
// "  SIMD: avx2 fma f16c ...; caches L1d 48 KiB, L2 1 MiB, L3 32 MiB\n"
std::string format_cpu_text(const CpuInfo& cpu);

}  // namespace pocketllm
