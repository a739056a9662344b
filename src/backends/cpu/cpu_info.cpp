#include "backends/cpu/cpu_info.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "util/error.h"
#include "util/text_file.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#include <sys/utsname.h>

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

// Unsigned decimal (or 0x-prefixed hex) with nothing else around it.
std::optional<uint64_t> parse_uint(std::string_view s) {
  s = trim(s);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<unsigned> read_uint_file(const fs::path& path) {
  const auto text = read_text_file(path);
  if (!text) return std::nullopt;
  const auto value = parse_uint(*text);
  if (!value || *value > 0xffffffffu) {
    throw InputError(fmt::format("{}: expected an unsigned integer, got '{}'", path.string(), trim(*text)));
  }
  return static_cast<unsigned>(*value);
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::istringstream in{std::string(s)};
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Arm MIDR implementer and (for Arm Ltd.) part numbers, as util-linux's lscpu
// names them; enough for the machines this project targets.
std::string arm_implementer_name(uint64_t implementer) {
  switch (implementer) {
    case 0x41: return "ARM";
    case 0x42: return "Broadcom";
    case 0x43: return "Cavium";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x50: return "APM";
    case 0x51: return "Qualcomm";
    case 0x53: return "Samsung";
    case 0x56: return "Marvell";
    case 0x61: return "Apple";
    case 0x69: return "Intel";
    case 0xc0: return "Ampere";
    default: return fmt::format("implementer 0x{:02x}", implementer);
  }
}

std::optional<std::string_view> arm_ltd_part_name(uint64_t part) {
  switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd05: return "Cortex-A55";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd40: return "Neoverse-V1";
    case 0xd41: return "Cortex-A78";
    case 0xd44: return "Cortex-X1";
    case 0xd46: return "Cortex-A510";
    case 0xd47: return "Cortex-A710";
    case 0xd48: return "Cortex-X2";
    case 0xd49: return "Neoverse-N2";
    case 0xd4f: return "Neoverse-V2";
    case 0xd80: return "Cortex-A520";
    case 0xd81: return "Cortex-A720";
    case 0xd82: return "Cortex-X4";
    case 0xd84: return "Neoverse-V3";
    case 0xd85: return "Cortex-X925";
    case 0xd87: return "Cortex-A725";
    case 0xd8e: return "Neoverse-N3";
    default: return std::nullopt;
  }
}

// Each feature's cpuinfo flag names (x86 and Arm spellings) and its field.
struct FeatureName {
  std::string_view flag;
  bool SimdFeatures::*field;
};
constexpr std::array kFeatureNames{
    FeatureName{"avx2", &SimdFeatures::avx2},
    FeatureName{"fma", &SimdFeatures::fma},
    FeatureName{"f16c", &SimdFeatures::f16c},
    FeatureName{"avx512f", &SimdFeatures::avx512f},
    FeatureName{"avx512bw", &SimdFeatures::avx512bw},
    FeatureName{"avx512vl", &SimdFeatures::avx512vl},
    FeatureName{"avx512vbmi", &SimdFeatures::avx512vbmi},
    FeatureName{"avx512_vnni", &SimdFeatures::avx512_vnni},
    FeatureName{"avx512_bf16", &SimdFeatures::avx512_bf16},
    FeatureName{"avx_vnni", &SimdFeatures::avx_vnni},
    FeatureName{"amx_tile", &SimdFeatures::amx_tile},
    FeatureName{"amx_int8", &SimdFeatures::amx_int8},
    FeatureName{"amx_bf16", &SimdFeatures::amx_bf16},
    FeatureName{"asimd", &SimdFeatures::neon},
    FeatureName{"asimddp", &SimdFeatures::dotprod},
    FeatureName{"i8mm", &SimdFeatures::i8mm},
    FeatureName{"sve", &SimdFeatures::sve},
};

std::string format_cache_size(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = 1024 * kKiB;
  if (bytes >= kMiB && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes >= kKiB && bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} B", bytes);
}

#if defined(__x86_64__) || defined(__i386__)
struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

uint32_t max_basic_leaf() { return static_cast<uint32_t>(__get_cpuid_max(0, nullptr)); }
uint32_t max_extended_leaf() { return static_cast<uint32_t>(__get_cpuid_max(0x80000000u, nullptr)); }

bool bit(uint32_t reg, unsigned n) { return ((reg >> n) & 1u) != 0; }

// XCR0: which register states the OS saves on a context switch.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

// Leaf 4 (Intel) and 0x8000001D (AMD) share this layout: one subleaf per
// cache; EAX[4:0] type (0 = no more, 1 data, 2 instruction, 3 unified),
// EAX[7:5] level; size = ways * partitions * line size * sets.
bool caches_from_deterministic_leaf(uint32_t leaf, CacheSizes& caches) {
  bool found = false;
  for (uint32_t index = 0; index < 16; ++index) {
    const CpuidRegs r = cpuid(leaf, index);
    const uint32_t type = r.eax & 0x1f;
    if (type == 0) break;
    found = true;
    if (type == 2) continue;
    const uint32_t level = (r.eax >> 5) & 0x7;
    const uint64_t ways = (r.ebx >> 22) + 1;
    const uint64_t partitions = ((r.ebx >> 12) & 0x3ff) + 1;
    const uint64_t line = (r.ebx & 0xfff) + 1;
    const uint64_t sets = static_cast<uint64_t>(r.ecx) + 1;
    const uint64_t size = ways * partitions * line * sets;
    if (level == 1 && type == 1) caches.l1d = size;
    if (level == 2) caches.l2 = size;
    if (level == 3) caches.l3 = size;
  }
  return found;
}
#endif

}  // namespace

std::vector<std::string_view> simd_feature_names(const SimdFeatures& simd) {
  std::vector<std::string_view> names;
  for (const FeatureName& f : kFeatureNames) {
    if (simd.*f.field) names.push_back(f.flag);
  }
  return names;
}

SimdFeatures simd_features_from_flags(const std::vector<std::string>& flags) {
  SimdFeatures simd;
  for (const std::string& flag : flags) {
    for (const FeatureName& f : kFeatureNames) {
      if (flag == f.flag) simd.*f.field = true;
    }
    if (flag == "neon") simd.neon = true;  // 32-bit Arm spelling
  }
  return simd;
}

CpuinfoText parse_cpuinfo(std::string_view text) {
  CpuinfoText info;
  std::set<std::pair<unsigned, unsigned>> cores;
  // A plain flag + value: gcc 12 -O3 reports a false maybe-uninitialized
  // on std::optional<unsigned> here.
  bool have_physical_id = false;
  unsigned physical_id = 0;
  std::optional<uint64_t> implementer, part;
  bool have_flags = false;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++info.processors;
      have_physical_id = false;
    } else if (key == "vendor_id" && info.vendor.empty()) {
      info.vendor = value;
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = value;
    } else if ((key == "flags" || key == "Features") && !have_flags) {
      info.flags = split_words(value);
      have_flags = true;
    } else if (key == "physical id") {
      if (const auto id = parse_uint(value); id && *id <= 0xffffffffu) {
        physical_id = static_cast<unsigned>(*id);
        have_physical_id = true;
      }
    } else if (key == "core id" && have_physical_id) {
      if (const auto id = parse_uint(value); id && *id <= 0xffffffffu) {
        cores.emplace(physical_id, static_cast<unsigned>(*id));
      }
    } else if (key == "CPU implementer" && !implementer) {
      implementer = parse_uint(value);
    } else if (key == "CPU part" && !part) {
      part = parse_uint(value);
    }
  }
  if (info.vendor.empty() && implementer) info.vendor = arm_implementer_name(*implementer);
  if (info.model_name.empty() && implementer && part) {
    const auto name = *implementer == 0x41 ? arm_ltd_part_name(*part) : std::nullopt;
    info.model_name = name ? std::string(*name) : fmt::format("{} part 0x{:03x}", info.vendor, *part);
  }
  info.cores.assign(cores.begin(), cores.end());
  return info;
}

uint64_t parse_sysfs_size(std::string_view text, std::string_view where) {
  const std::string_view s = trim(text);
  uint64_t multiplier = 1;
  std::string_view digits = s;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K': multiplier = uint64_t{1} << 10; break;
      case 'M': multiplier = uint64_t{1} << 20; break;
      case 'G': multiplier = uint64_t{1} << 30; break;
      default: break;
    }
    if (multiplier != 1) digits.remove_suffix(1);
  }
  const auto value = parse_uint(digits);
  if (!value || digits.starts_with("0x") || *value > UINT64_MAX / multiplier) {
    throw InputError(fmt::format("{}: expected a size like '48K', got '{}'", where, s));
  }
  return *value * multiplier;
}

unsigned count_cpu_list(std::string_view text, std::string_view where) {
  const std::string_view list = trim(text);
  const auto bad = [&] { return InputError(fmt::format("{}: malformed CPU list '{}'", where, list)); };
  unsigned count = 0;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view range = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t dash = range.find('-');
    const auto first = parse_uint(range.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_uint(range.substr(dash + 1));
    if (!first || !last || *last < *first || *last - *first >= 1u << 20) throw bad();
    count += static_cast<unsigned>(*last - *first + 1);
  }
  return count;
}

unsigned count_physical_cores_sysfs(const fs::path& root) {
  const fs::path cpu_dir = root / "sys/devices/system/cpu";
  std::error_code ec;
  std::set<std::pair<unsigned, unsigned>> cores;
  for (fs::directory_iterator it(cpu_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= 3 || !name.starts_with("cpu") ||
        !std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const auto package = read_uint_file(it->path() / "topology/physical_package_id");
    const auto core = read_uint_file(it->path() / "topology/core_id");
    if (package && core) cores.emplace(*package, *core);
  }
  return static_cast<unsigned>(cores.size());
}

CacheSizes read_cache_sizes_sysfs(const fs::path& root) {
  CacheSizes caches;
  const fs::path cache_dir = root / "sys/devices/system/cpu/cpu0/cache";
  std::error_code ec;
  for (fs::directory_iterator it(cache_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->path().filename().string().starts_with("index")) continue;
    const auto level = read_uint_file(it->path() / "level");
    const auto type = read_text_file(it->path() / "type");
    const fs::path size_path = it->path() / "size";
    const auto size = read_text_file(size_path);
    if (!level || !type || !size) continue;
    const std::string_view kind = trim(*type);
    if (kind == "Instruction") continue;
    const uint64_t bytes = parse_sysfs_size(*size, size_path.string());
    if (*level == 1 && kind == "Data") caches.l1d = bytes;
    if (*level == 2) caches.l2 = bytes;
    if (*level == 3) caches.l3 = bytes;
  }
  return caches;
}

CpuInfo read_cpu_info_from_files(const fs::path& root) {
  CpuInfo cpu;

  const CpuinfoText cpuinfo = parse_cpuinfo(read_text_file(root / "proc/cpuinfo").value_or(""));
  cpu.vendor = cpuinfo.vendor;
  cpu.model_name = cpuinfo.model_name;
  cpu.simd = simd_features_from_flags(cpuinfo.flags);

  const fs::path online_path = root / "sys/devices/system/cpu/online";
  if (const auto online = read_text_file(online_path)) {
    cpu.logical_cpus = count_cpu_list(*online, online_path.string());
  } else {
    cpu.logical_cpus = cpuinfo.processors;
  }
  cpu.physical_cores = count_physical_cores_sysfs(root);
  if (cpu.physical_cores == 0) cpu.physical_cores = static_cast<unsigned>(cpuinfo.cores.size());
  // No topology anywhere (some VMs, old Arm kernels): one thread per core.
  if (cpu.physical_cores == 0) cpu.physical_cores = cpu.logical_cpus;

  cpu.caches = read_cache_sizes_sysfs(root);
  return cpu;
}

SimdFeatures simd_features_from_cpuid() {
  SimdFeatures simd;
#if defined(__x86_64__) || defined(__i386__)
  const uint32_t max_leaf = max_basic_leaf();
  if (max_leaf < 1) return simd;
  const CpuidRegs leaf1 = cpuid(1);
  const bool osxsave = bit(leaf1.ecx, 27);
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;             // XMM + YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  const bool os_amx = (xcr0 & (uint64_t{3} << 17)) == (uint64_t{3} << 17);  // XTILECFG + XTILEDATA

  const bool avx = os_avx && bit(leaf1.ecx, 28);
  simd.fma = avx && bit(leaf1.ecx, 12);
  simd.f16c = avx && bit(leaf1.ecx, 29);
  if (max_leaf < 7) return simd;
  const CpuidRegs leaf7 = cpuid(7, 0);
  simd.avx2 = avx && bit(leaf7.ebx, 5);
  simd.avx512f = os_avx512 && bit(leaf7.ebx, 16);
  simd.avx512bw = simd.avx512f && bit(leaf7.ebx, 30);
  simd.avx512vl = simd.avx512f && bit(leaf7.ebx, 31);
  simd.avx512vbmi = simd.avx512f && bit(leaf7.ecx, 1);
  simd.avx512_vnni = simd.avx512f && bit(leaf7.ecx, 11);
  simd.amx_bf16 = os_amx && bit(leaf7.edx, 22);
  simd.amx_tile = os_amx && bit(leaf7.edx, 24);
  simd.amx_int8 = os_amx && bit(leaf7.edx, 25);
  if (leaf7.eax >= 1) {
    const CpuidRegs leaf7_1 = cpuid(7, 1);
    simd.avx_vnni = avx && bit(leaf7_1.eax, 4);
    simd.avx512_bf16 = simd.avx512f && bit(leaf7_1.eax, 5);
  }
#endif
  return simd;
}

CacheSizes cache_sizes_from_cpuid() {
  CacheSizes caches;
#if defined(__x86_64__) || defined(__i386__)
  const std::string vendor = cpu_vendor_from_cpuid();
  const uint32_t max_ext = max_extended_leaf();
  if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") {
    const bool topoext = max_ext >= 0x80000001u && bit(cpuid(0x80000001u).ecx, 22);
    if (topoext && max_ext >= 0x8000001Du && caches_from_deterministic_leaf(0x8000001Du, caches)) return caches;
    // Legacy AMD leaves: L1d KiB in 0x80000005 ECX[31:24]; L2 KiB in
    // 0x80000006 ECX[31:16]; L3 in 512 KiB units in 0x80000006 EDX[31:18].
    if (max_ext >= 0x80000005u) caches.l1d = uint64_t{cpuid(0x80000005u).ecx >> 24} * 1024;
    if (max_ext >= 0x80000006u) {
      const CpuidRegs r = cpuid(0x80000006u);
      caches.l2 = uint64_t{r.ecx >> 16} * 1024;
      caches.l3 = uint64_t{r.edx >> 18} * 512 * 1024;
    }
  } else if (max_basic_leaf() >= 4) {
    caches_from_deterministic_leaf(4, caches);
  }
#endif
  return caches;
}

std::string cpu_vendor_from_cpuid() {
#if defined(__x86_64__) || defined(__i386__)
  const CpuidRegs r = cpuid(0);
  char vendor[12];
  std::memcpy(vendor, &r.ebx, 4);
  std::memcpy(vendor + 4, &r.edx, 4);
  std::memcpy(vendor + 8, &r.ecx, 4);
  return std::string(vendor, sizeof vendor);
#else
  return {};
#endif
}

std::string cpu_brand_from_cpuid() {
#if defined(__x86_64__) || defined(__i386__)
  if (max_extended_leaf() < 0x80000004u) return {};
  char brand[48];
  for (uint32_t i = 0; i < 3; ++i) {
    const CpuidRegs r = cpuid(0x80000002u + i);
    std::memcpy(brand + 16 * i, &r.eax, 4);
    std::memcpy(brand + 16 * i + 4, &r.ebx, 4);
    std::memcpy(brand + 16 * i + 8, &r.ecx, 4);
    std::memcpy(brand + 16 * i + 12, &r.edx, 4);
  }
  return std::string(trim(std::string_view(brand, strnlen(brand, sizeof brand))));
#else
  return {};
#endif
}

SimdFeatures simd_features_from_hwcap() {
  SimdFeatures simd;
#if defined(__aarch64__) && defined(__linux__)
  // Bit numbers from the arm64 Linux ABI (arch/arm64/include/uapi/asm/hwcap.h).
  constexpr unsigned long kHwcapAsimd = 1ul << 1;
  constexpr unsigned long kHwcapAsimdDp = 1ul << 20;
  constexpr unsigned long kHwcapSve = 1ul << 22;
  constexpr unsigned long kHwcap2I8mm = 1ul << 13;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  simd.neon = (hwcap & kHwcapAsimd) != 0;
  simd.dotprod = (hwcap & kHwcapAsimdDp) != 0;
  simd.sve = (hwcap & kHwcapSve) != 0;
  simd.i8mm = (hwcap2 & kHwcap2I8mm) != 0;
#endif
  return simd;
}

CpuInfo probe_cpu() {
  CpuInfo cpu = read_cpu_info_from_files("/");
  if (struct utsname uts {}; uname(&uts) == 0) cpu.arch = uts.machine;
#if defined(__x86_64__) || defined(__i386__)
  cpu.simd = simd_features_from_cpuid();
  cpu.vendor = cpu_vendor_from_cpuid();
  // The kernel's "model name" (what lscpu shows) is kept when there is one.
  if (cpu.model_name.empty()) cpu.model_name = cpu_brand_from_cpuid();
  // Some VMs expose no cache directories in sysfs; CPUID fills those levels.
  const CacheSizes from_cpuid = cache_sizes_from_cpuid();
  if (cpu.caches.l1d == 0) cpu.caches.l1d = from_cpuid.l1d;
  if (cpu.caches.l2 == 0) cpu.caches.l2 = from_cpuid.l2;
  if (cpu.caches.l3 == 0) cpu.caches.l3 = from_cpuid.l3;
#elif defined(__aarch64__) && defined(__linux__)
  cpu.simd = simd_features_from_hwcap();
#endif
  return cpu;
}

nlohmann::json to_json(const CpuInfo& cpu) {
  nlohmann::json simd = nlohmann::json::array();
  for (const std::string_view name : simd_feature_names(cpu.simd)) simd.push_back(name);
  return {
      {"arch", cpu.arch},
      {"vendor", cpu.vendor},
      {"model_name", cpu.model_name},
      {"logical_cpus", cpu.logical_cpus},
      {"physical_cores", cpu.physical_cores},
      {"simd", std::move(simd)},
      {"caches", {{"l1d_bytes", cpu.caches.l1d}, {"l2_bytes", cpu.caches.l2}, {"l3_bytes", cpu.caches.l3}}},
  };
}

std::string format_cpu_text(const CpuInfo& cpu) {
  std::string out = fmt::format("CPU: {}", cpu.model_name.empty() ? "unknown model" : cpu.model_name);
  std::vector<std::string_view> origin;
  if (!cpu.vendor.empty()) origin.push_back(cpu.vendor);
  if (!cpu.arch.empty()) origin.push_back(cpu.arch);
  if (!origin.empty()) out += fmt::format(" ({})", fmt::join(origin, ", "));
  out += fmt::format(" — {} physical core{}, {} thread{}\n", cpu.physical_cores, cpu.physical_cores == 1 ? "" : "s",
                     cpu.logical_cpus, cpu.logical_cpus == 1 ? "" : "s");

  const auto names = simd_feature_names(cpu.simd);
  out += fmt::format("  SIMD: {}", names.empty() ? std::string("none detected") : fmt::format("{}", fmt::join(names, " ")));
  std::vector<std::string> caches;
  if (cpu.caches.l1d != 0) caches.push_back("L1d " + format_cache_size(cpu.caches.l1d));
  if (cpu.caches.l2 != 0) caches.push_back("L2 " + format_cache_size(cpu.caches.l2));
  if (cpu.caches.l3 != 0) caches.push_back("L3 " + format_cache_size(cpu.caches.l3));
  out += caches.empty() ? std::string("; caches unknown\n") : fmt::format("; caches {}\n", fmt::join(caches, ", "));
  return out;
}

}  // namespace pocketllm
