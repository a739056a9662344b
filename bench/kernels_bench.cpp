// pocketllm-bench-kernels: this machine's memory read bandwidth, then the
// weight-times-activation products of every weight type on 1B-class shapes
// (W [rows x k] = 2048x2048, 2048x5632, 5632x2048, 32000x2048) at batch
// 1, 8, 64, 512 (weight bytes read per second, as a fraction of the
// measured bandwidth, and GFLOP/s), through the engine's
// run_linear (activations quantized, rows split as a model's projections
// are: stolen grains for matrix-vector products, static shares for panels).
// Decode batches (1 to 15 tokens: the row kernels, below kPanelMinTokens)
// read cold weights, as a decode step of that many sequences does: each
// iteration takes another of enough copies of the matrix that no cache
// holds them; --warm adds runs of them that reuse one matrix (cache-resident
// where it fits). Larger batches (prefill GEMMs) reuse one matrix.
// This VM's read bandwidth swings between about 30 and 70 GB/s within
// minutes (other tenants), so each cold GEMV iteration is followed by an
// untimed-for-the-GEMV read of another copy of the same bytes (same threads,
// one fork, the bandwidth figure's loop), and the GEMV's weight rate is also
// reported as a fraction of the rate of those interleaved reads
// ("of_near_bw"), besides the fraction of the figure measured at start
// ("of_bw"): the two then see the same memory conditions. A second such read
// without the page-start prefetches (STREAM's plain loop) gives "of_stream".
//
//   pocketllm-bench-kernels [--threads=N] [--types=Q4_0,Q8_0] [--batches=1,8]
//                           [--shapes=2048x2048,...] [--bandwidth-mib=N] [--warm]
//                           [--isa=avx512] (default: the best this CPU runs)
//                           [Google Benchmark flags, e.g. --benchmark_format=json]
//
// The bandwidth buffer defaults to max(1 GiB, 4 x L3) so that no cache holds it
// (page-aligned, on huge pages where the system has them: read_bandwidth.cpp);
// the cold copies of a matrix together take max(that buffer, 4 x L3), at most 4 GiB,
// each copy on its own pages, huge where the engine's would be (repacked matrices).
// With --benchmark_format=json the JSON goes to stdout (the bandwidth is in
// its "context") and the text report to stderr.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/matmul/matmul.h"
#include "backends/cpu/thread_pool.h"
#include "formats/ggml_types.h"
#include "model/blocks/linear.h"
#include "read_bandwidth.h"
#include "util/anonymous_memory.h"

namespace pocketllm::bench {
namespace {

struct Shape {
  int64_t rows;
  int64_t k;
};

struct Options {
  unsigned threads = 2;
  std::vector<GgmlType> types;
  std::vector<int64_t> batches = {1, 8, 64, 512};
  std::vector<Shape> shapes = {{2048, 2048}, {2048, 5632}, {5632, 2048}, {32000, 2048}};
  size_t bandwidth_bytes = 0;  // 0: max(1 GiB, 4 x L3)
  bool warm = false;           // also decode batches on one reused matrix
  std::string isa;             // matmul_isa_name of the kernels; empty: best_matmul_isa
  bool json = false;
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(sep, start), s.size());
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Takes our flags out of argv (Google Benchmark rejects unknown ones).
Options parse_options(int& argc, char** argv) {
  Options o;
  for (const GgmlType t :
       {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
        GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K,
        GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
        GgmlType::MXFP4}) {
    if (MatmulKernels::supports(t)) o.types.push_back(t);
  }
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&](std::string_view flag) { return std::string(arg.substr(flag.size())); };
    if (arg.starts_with("--threads=")) {
      o.threads = static_cast<unsigned>(std::stoul(value("--threads=")));
    } else if (arg.starts_with("--types=")) {
      o.types.clear();
      for (const std::string& name : split(value("--types="), ',')) {
        const auto t = ggml_type_from_name(name);
        if (!t || !MatmulKernels::supports(*t)) {
          std::fprintf(stderr, "unknown or unsupported weight type %s\n", name.c_str());
          std::exit(2);
        }
        o.types.push_back(*t);
      }
    } else if (arg.starts_with("--batches=")) {
      o.batches.clear();
      for (const std::string& b : split(value("--batches="), ',')) o.batches.push_back(std::stoll(b));
    } else if (arg.starts_with("--shapes=")) {
      o.shapes.clear();
      for (const std::string& s : split(value("--shapes="), ',')) {
        const size_t x = s.find('x');
        o.shapes.push_back({std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1))});
      }
    } else if (arg.starts_with("--bandwidth-mib=")) {
      o.bandwidth_bytes = std::stoull(value("--bandwidth-mib=")) << 20;
    } else if (arg == "--warm") {
      o.warm = true;
    } else if (arg.starts_with("--isa=")) {
      o.isa = value("--isa=");
    } else {
      if (arg == "--benchmark_format=json") o.json = true;
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return o;
}

// One weight matrix at a time (the 32000x2048 F32 one is 262 MB). Bytes are
// random in [0x30, 0x3f], so every f16 / bf16 / f32 / e8m0 scale is a normal
// number (no denormal slow paths) and quant values are random.
const std::vector<std::byte>& weight_bytes(GgmlType type, const Shape& shape) {
  static std::vector<std::byte> bytes;
  static GgmlType cached_type = GgmlType::I8;
  static Shape cached_shape{0, 0};
  if (cached_type != type || cached_shape.rows != shape.rows || cached_shape.k != shape.k) {
    const WeightMatrix w{type, nullptr, shape.rows, shape.k};
    bytes.assign(w.row_bytes() * static_cast<size_t>(shape.rows), std::byte{0});
    std::mt19937 rng(42);
    for (std::byte& b : bytes) b = static_cast<std::byte>(0x30 + (rng() & 0xf));
    cached_type = type;
    cached_shape = shape;
  }
  return bytes;
}

// Copies of one (repacked) matrix, back to back, that together exceed every
// cache: a GEMV cycling through them reads its weights from DRAM like a
// decode step, where each weight byte is read once per token.
struct ColdCopies {
  AnonymousMemory storage;
  size_t stride = 0;  // bytes from one copy to the next: whole pages, as the engine maps each tensor
  size_t count = 0;
  size_t next = 0;    // the copy the next iteration reads; kept across runs
};

constexpr size_t kMaxColdBytes = size_t{4} << 30;  // well under this VM's RAM

ColdCopies& cold_copies(const WeightMatrix& w, size_t matrix_bytes, size_t min_total_bytes) {
  static ColdCopies copies;
  static std::tuple<GgmlType, int64_t, int64_t, WeightLayout> cached{GgmlType::I8, 0, 0, WeightLayout::Gguf};
  const auto key = std::tuple(w.type, w.rows, w.k, w.layout);
  if (key != cached) {
    const size_t page = AnonymousMemory::page_bytes();
    copies.stride = (matrix_bytes + page - 1) / page * page;
    const size_t wanted = (min_total_bytes + copies.stride - 1) / copies.stride;
    copies.count = std::max<size_t>(2, std::min(wanted, kMaxColdBytes / copies.stride));
    copies.storage = AnonymousMemory();  // free the last copies first: peak stays one set
    // Huge pages where the engine has them: repacked matrices (file views have the page cache's pages).
    copies.storage = AnonymousMemory(copies.stride * copies.count, w.layout != WeightLayout::Gguf);
    for (size_t c = 0; c < copies.count; ++c) {
      std::memcpy(copies.storage.data() + c * copies.stride, w.data, matrix_bytes);
    }
    copies.next = 0;
    cached = key;
  }
  return copies;
}

// Reads the next copy once, as the GEMV would (or without the page-start
// prefetches, as STREAM does), onto `total`.
struct ReadTotal {
  double bytes = 0.0;
  double seconds = 0.0;
};
void read_next_copy(ThreadPool& pool, ColdCopies& copies, size_t matrix_bytes, ReadTotal& total, bool page_prefetch) {
  total.seconds +=
      read_once_seconds(pool, copies.storage.data() + copies.next * copies.stride, matrix_bytes, page_prefetch);
  total.bytes += static_cast<double>(matrix_bytes);
  copies.next = (copies.next + 1) % copies.count;
}

struct Result {
  std::string type;
  Shape shape;
  int64_t batch;
  bool cold;
  double seconds;  // per product
  double weight_bytes;
  double near_bandwidth;        // bytes/s of the reads interleaved with a cold GEMV; 0 when warm
  double near_plain_bandwidth;  // the same without page-start prefetches (STREAM's loop)
};

struct Context {
  Options options;
  ReadBandwidth bandwidth;
  size_t cold_bytes = 0;  // the least the cold copies of a matrix take together
  ThreadPool* pool = nullptr;
  MatmulKernels* kernels = nullptr;
  std::map<std::string, Result> results;  // by benchmark name; the last run wins
};

Context* g_context = nullptr;

std::optional<MatmulIsa> matmul_isa_by_name(std::string_view name, const SimdFeatures& simd) {
  for (const MatmulIsa isa : {MatmulIsa::Scalar, MatmulIsa::Avx2, MatmulIsa::AvxVnni, MatmulIsa::Avx512,
                              MatmulIsa::Avx512Bf16, MatmulIsa::Neon, MatmulIsa::NeonDotprod, MatmulIsa::NeonI8mm}) {
    if (matmul_isa_name(isa) == name && matmul_isa_usable(isa, simd)) return isa;
  }
  return std::nullopt;
}

std::string bench_name(std::string_view type, Shape shape, int64_t batch, bool cold) {
  return std::string(type) + "/" + std::to_string(shape.rows) + "x" + std::to_string(shape.k) + "/n" +
         std::to_string(batch) + (batch < kPanelMinTokens && !cold ? "/warm" : "");
}

void bench_product(benchmark::State& state, GgmlType type, Shape shape, int64_t batch, bool cold) {
  Context& ctx = *g_context;
  ThreadPool& pool = *ctx.pool;
  const MatmulKernels& kernels = *ctx.kernels;
  const std::vector<std::byte>& bytes = weight_bytes(type, shape);
  WeightMatrix w{type, bytes.data(), shape.rows, shape.k};
  // The layout the engine repacks this matrix to at load time.
  AnonymousMemory repacked;
  if (const WeightLayout layout = kernels.preferred_layout(type, shape.rows); layout != WeightLayout::Gguf) {
    repacked = AnonymousMemory(bytes.size(), /*huge_pages=*/true);
    MatmulKernels::repack(w, layout, {repacked.data(), repacked.size()});
    w.data = repacked.data();
    w.layout = layout;
  }
  std::vector<float> x(static_cast<size_t>(batch * shape.k));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  const std::vector<float> x_source = x;
  std::vector<float> y(static_cast<size_t>(batch * shape.rows));
  // The engine's path: run_linear quantizes X and splits the rows as a model's projections do.
  CpuContext cpu(pool, kernels);
  cpu.activation_scratch.resize(kernels.activation_bytes(type, batch, shape.k));
  ColdCopies* copies = cold ? &cold_copies(w, bytes.size(), ctx.cold_bytes) : nullptr;
  if (copies) state.counters["cold_copies"] = static_cast<double>(copies->count);
  ReadTotal near_read;
  ReadTotal near_plain_read;

  double total_seconds = 0.0;
  for (auto _ : state) {
    if (copies) {
      w.data = copies->storage.data() + copies->next * copies->stride;
      copies->next = (copies->next + 1) % copies->count;
    }
    // X as a decode step has it, just written by the op before (a norm), not
    // left behind in memory by the last iteration's weight stream.
    std::copy(x_source.begin(), x_source.end(), x.begin());
    const auto start = std::chrono::steady_clock::now();
    run_linear(cpu, x.data(), batch, w, y.data());
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(took.count());
    total_seconds += took.count();
    benchmark::DoNotOptimize(y.data());
    // The reference reads of this moment (outside the iteration's time). What
    // runs after a plain read measured 10-20% slower (AVX2 Q8_0 GEMVs, and
    // the prefetched read), so the prefetched read follows the GEMV, the plain
    // one follows it, and one more prefetched read (not counted) comes last:
    // the GEMV and the prefetched read each follow what they did with one read.
    if (copies) {
      read_next_copy(pool, *copies, bytes.size(), near_read, true);
      read_next_copy(pool, *copies, bytes.size(), near_plain_read, false);
      ReadTotal ignored;
      read_next_copy(pool, *copies, bytes.size(), ignored, true);
    }
  }
  const auto iterations = static_cast<double>(state.iterations());
  const auto weight = static_cast<double>(bytes.size());
  const double flops = 2.0 * static_cast<double>(batch) * static_cast<double>(shape.rows) *
                       static_cast<double>(shape.k);
  state.counters["weight_GBps"] =
      benchmark::Counter(weight * 1e-9 * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9 * iterations, benchmark::Counter::kIsRate);
  const double seconds = total_seconds / iterations;
  state.counters["fraction_of_read_bw"] = weight / seconds / ctx.bandwidth.bytes_per_second;
  const double near_bandwidth = copies ? near_read.bytes / near_read.seconds : 0.0;
  const double near_plain_bandwidth = copies ? near_plain_read.bytes / near_plain_read.seconds : 0.0;
  if (copies) {
    state.counters["near_read_GBps"] = near_bandwidth * 1e-9;
    state.counters["fraction_of_near_read_bw"] = weight / seconds / near_bandwidth;
    state.counters["fraction_of_near_stream_bw"] = weight / seconds / near_plain_bandwidth;
  }
  ctx.results[bench_name(ggml_type_name(type), shape, batch, cold)] = {
      std::string(ggml_type_name(type)), shape, batch, cold, seconds, weight, near_bandwidth, near_plain_bandwidth};
}

void print_summary(const Context& ctx, std::FILE* out) {
  std::fprintf(out, "\nSummary (%u threads, read bandwidth %.2f GB/s)\n", ctx.options.threads,
               ctx.bandwidth.bytes_per_second * 1e-9);
  std::fprintf(out,
               "weights: cold = each iteration reads another of >= %zu MiB of copies of the matrix "
               "(as in decode); warm = one matrix, reused\n"
               "of_bw: weight GB/s / the read bandwidth above; near_bw, of_near_bw: the read rate of "
               "further cold copies read between the products (one after each), and the fraction of it; "
               "of_stream: the fraction of such reads without page-start prefetches (STREAM's plain loop)\n",
               ctx.cold_bytes >> 20);
  std::fprintf(out, "%-7s %-11s %6s %-7s %11s %12s %9s %8s %10s %9s %10s\n", "type", "W rows x k", "batch",
               "weights", "time_us", "weight_GB/s", "of_bw", "near_bw", "of_near_bw", "of_stream", "GFLOP/s");
  std::vector<const Result*> rows;
  for (const auto& [name, r] : ctx.results) rows.push_back(&r);
  // Registration order: type, shape, batch, cold before warm.
  std::vector<std::string> type_order;
  for (const GgmlType t : ctx.options.types) type_order.emplace_back(ggml_type_name(t));
  const auto rank = [&](const Result* r) {
    const auto type_index = std::find(type_order.begin(), type_order.end(), r->type) - type_order.begin();
    size_t shape_index = 0;
    while (shape_index < ctx.options.shapes.size() &&
           (ctx.options.shapes[shape_index].rows != r->shape.rows ||
            ctx.options.shapes[shape_index].k != r->shape.k)) {
      ++shape_index;
    }
    return std::tuple(type_index, shape_index, r->batch, !r->cold);
  };
  std::sort(rows.begin(), rows.end(), [&](const Result* a, const Result* b) { return rank(a) < rank(b); });
  for (const Result* r : rows) {
    const double gbps = r->weight_bytes / r->seconds * 1e-9;
    const double gflops = 2.0 * static_cast<double>(r->batch) * static_cast<double>(r->shape.rows) *
                          static_cast<double>(r->shape.k) / r->seconds * 1e-9;
    const std::string shape = std::to_string(r->shape.rows) + "x" + std::to_string(r->shape.k);
    char near[3][32] = {"-", "-", "-"};
    if (r->near_bandwidth > 0.0) {
      std::snprintf(near[0], sizeof near[0], "%.2f", r->near_bandwidth * 1e-9);
      std::snprintf(near[1], sizeof near[1], "%.1f%%", 100.0 * gbps * 1e9 / r->near_bandwidth);
      std::snprintf(near[2], sizeof near[2], "%.1f%%", 100.0 * gbps * 1e9 / r->near_plain_bandwidth);
    }
    std::fprintf(out, "%-7s %-11s %6lld %-7s %11.1f %12.2f %8.1f%% %8s %10s %9s %10.1f\n", r->type.c_str(),
                 shape.c_str(), static_cast<long long>(r->batch), r->cold ? "cold" : "warm",
                 r->seconds * 1e6, gbps,
                 100.0 * gbps * 1e9 / ctx.bandwidth.bytes_per_second, near[0], near[1], near[2], gflops);
  }
}

}  // namespace
}  // namespace pocketllm::bench

int main(int argc, char** argv) {
  using namespace pocketllm;
  using namespace pocketllm::bench;
  Context ctx;
  ctx.options = parse_options(argc, argv);
  std::FILE* text = ctx.options.json ? stderr : stdout;

  ThreadPool pool(ctx.options.threads);
  const CpuInfo cpu = probe_cpu();
  MatmulKernels kernels(best_matmul_isa(cpu.simd));
  if (!ctx.options.isa.empty()) {
    const auto named = matmul_isa_by_name(ctx.options.isa, cpu.simd);
    if (!named) {
      std::fprintf(stderr, "unknown matmul ISA %s, or this CPU does not run it\n", ctx.options.isa.c_str());
      return 2;
    }
    kernels = MatmulKernels(*named);
  }
  ctx.pool = &pool;
  ctx.kernels = &kernels;
  g_context = &ctx;

  size_t buffer_bytes = ctx.options.bandwidth_bytes;
  if (buffer_bytes == 0) buffer_bytes = std::max<size_t>(size_t{1} << 30, 4 * cpu.caches.l3);
  ctx.bandwidth = measure_read_bandwidth(pool, buffer_bytes, 5);
  ctx.cold_bytes = std::min(std::max<size_t>(buffer_bytes, 4 * cpu.caches.l3), kMaxColdBytes);
  std::fprintf(text, "%s", format_cpu_text(cpu).c_str());
  std::fprintf(text,
               "Memory read bandwidth: %.2f GB/s (%u threads, %zu MiB buffer, best of 5; "
               "without page-start prefetches %.2f)\n",
               ctx.bandwidth.bytes_per_second * 1e-9, ctx.bandwidth.threads,
               ctx.bandwidth.buffer_bytes >> 20, ctx.bandwidth.plain_bytes_per_second * 1e-9);
  std::fprintf(text, "Matmul kernels: %s\n", std::string(matmul_isa_name(kernels.isa())).c_str());
  std::fflush(text);

  benchmark::AddCustomContext("read_bandwidth_GBps", std::to_string(ctx.bandwidth.bytes_per_second * 1e-9));
  benchmark::AddCustomContext("threads", std::to_string(ctx.options.threads));
  benchmark::AddCustomContext("matmul_isa", std::string(matmul_isa_name(kernels.isa())));

  for (const GgmlType type : ctx.options.types) {
    for (const Shape& shape : ctx.options.shapes) {
      for (const int64_t batch : ctx.options.batches) {
        // Decode batches read cold weights; a prefill GEMM reuses its weights across tokens.
        const bool decode = batch < kPanelMinTokens;
        const bool runs_cold = decode;
        const bool runs_warm = !decode || ctx.options.warm;
        for (const bool cold : {true, false}) {
          if (cold ? !runs_cold : !runs_warm) continue;
          const std::string name = bench_name(ggml_type_name(type), shape, batch, cold);
          benchmark::RegisterBenchmark(name.c_str(), [type, shape, batch, cold](benchmark::State& state) {
            bench_product(state, type, shape, batch, cold);
          })->UseManualTime()->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary(ctx, text);
  return 0;
}
