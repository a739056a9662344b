// pocketllm-bench-attention: decode attention (one query row) over a paged
// KV cache at 4K tokens of context, f32 / f16 / bf16 / q8 / q4 K and V, on
// 1B- and 8B-class head shapes (32 query heads, 8 KV heads, head dim 64 /
// 128; and TinyLlama's 4 KV heads) over 16 layers, so that the cache does not
// fit any CPU cache. Reports the KV
// bytes read per second (wall time) next to this machine's measured read
// bandwidth; one iteration is one decode row through all 16 layers.
//
//   pocketllm-bench-attention [--threads=N] [--context=N] [--bandwidth-mib=N]
//                             [Google Benchmark flags]
// KV heads are split over the threads, as the engine splits a decode row.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu/attention/paged_attention.h"
#include "backends/cpu/cpu_info.h"
#include "backends/cpu/thread_pool.h"
#include "kv/paged_kv_cache.h"
#include "read_bandwidth.h"

namespace pocketllm::bench {
namespace {

struct Options {
  unsigned threads = 2;
  uint32_t context = 4096;
  size_t bandwidth_bytes = 0;
};

Options g_options;
ThreadPool* g_pool = nullptr;
double g_bandwidth = 0.0;

Options parse_options(int& argc, char** argv) {
  Options o;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--threads=")) {
      o.threads = static_cast<unsigned>(std::stoul(std::string(arg.substr(10))));
    } else if (arg.starts_with("--context=")) {
      o.context = static_cast<uint32_t>(std::stoul(std::string(arg.substr(10))));
    } else if (arg.starts_with("--bandwidth-mib=")) {
      o.bandwidth_bytes = std::stoull(std::string(arg.substr(16))) << 20;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return o;
}

void decode_attention(benchmark::State& state, uint32_t n_kv_heads, uint32_t head_dim, KvDtype dtype) {
  const uint32_t n_layers = 16;
  const uint32_t context = g_options.context;
  ModelDesc desc;
  desc.n_layers = n_layers;
  desc.n_heads = 32;
  desc.n_kv_heads = n_kv_heads;
  desc.head_dim_k = head_dim;
  desc.head_dim_v = head_dim;
  KvCacheOptions options;
  options.k_dtype = dtype;
  options.v_dtype = dtype;
  options.block_tokens = 16;
  options.n_blocks = PagedKvCache::blocks_for_tokens(context, 1, options.block_tokens);
  PagedKvCache cache(desc, options);
  if (!cache.reserve(0, context)) {
    state.SkipWithError("pool too small");
    return;
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> k(desc.n_kv_heads * head_dim);
  std::vector<float> v(desc.n_kv_heads * head_dim);
  for (uint32_t layer = 0; layer < n_layers; ++layer) {
    for (uint32_t pos = 0; pos < context; ++pos) {
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      cache.store(layer, 0, pos, k.data(), v.data());
    }
  }
  AttentionParams params;
  params.n_heads = desc.n_heads;
  params.n_kv_heads = desc.n_kv_heads;
  params.head_dim_k = head_dim;
  params.head_dim_v = head_dim;
  params.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> q(desc.n_heads * head_dim);
  for (float& x : q) x = dist(rng);
  std::vector<float> out(desc.n_heads * head_dim);
  std::vector<AttentionScratch> scratch;
  for (unsigned t = 0; t < g_pool->size(); ++t) scratch.emplace_back(params, options.block_tokens);

  for (auto _ : state) {
    for (uint32_t layer = 0; layer < n_layers; ++layer) {
      g_pool->parallel_for(desc.n_kv_heads, [&](size_t head, unsigned thread) {
        paged_attention_kv_heads(params, cache, layer, 0, context - 1, q.data(), out.data(), scratch[thread],
                                 static_cast<uint32_t>(head), static_cast<uint32_t>(head + 1));
      });
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double slab_bytes = static_cast<double>(kv_slab_bytes(kv_layout(dtype, true), options.block_tokens, head_dim) +
                                                kv_slab_bytes(kv_layout(dtype, false), options.block_tokens, head_dim));
  const double kv_bytes = static_cast<double>(n_layers) * context / options.block_tokens * desc.n_kv_heads * slab_bytes;
  state.counters["KV_GBps"] =
      benchmark::Counter(kv_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["fraction_of_read_bw"] =
      benchmark::Counter(kv_bytes / g_bandwidth, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace
}  // namespace pocketllm::bench

int main(int argc, char** argv) {
  using namespace pocketllm;
  using namespace pocketllm::bench;
  g_options = parse_options(argc, argv);
  ThreadPool pool(g_options.threads);
  g_pool = &pool;
  const CpuInfo cpu = probe_cpu();
  size_t buffer_bytes = g_options.bandwidth_bytes;
  if (buffer_bytes == 0) buffer_bytes = std::max<size_t>(size_t{1} << 30, 4 * cpu.caches.l3);
  g_bandwidth = measure_read_bandwidth(pool, buffer_bytes, 5).bytes_per_second;
  std::printf("%sMemory read bandwidth: %.2f GB/s (%u threads)\n", format_cpu_text(cpu).c_str(),
              g_bandwidth * 1e-9, g_options.threads);
  std::fflush(stdout);
  benchmark::AddCustomContext("read_bandwidth_GBps", std::to_string(g_bandwidth * 1e-9));
  benchmark::AddCustomContext("threads", std::to_string(g_options.threads));
  struct Shape {
    uint32_t n_kv_heads;
    uint32_t head_dim;
  };
  for (const Shape shape : {Shape{8, 64}, Shape{4, 64}, Shape{8, 128}}) {
    for (const KvDtype dtype : {KvDtype::F32, KvDtype::F16, KvDtype::BF16, KvDtype::Q8, KvDtype::Q4}) {
      const std::string name = std::string("decode_attention/ctx") + std::to_string(g_options.context) + "/kv" +
                               std::to_string(shape.n_kv_heads) + "/hd" + std::to_string(shape.head_dim) + "/" +
                               std::string(kv_dtype_name(dtype));
      benchmark::RegisterBenchmark(name.c_str(), [shape, dtype](benchmark::State& state) {
        decode_attention(state, shape.n_kv_heads, shape.head_dim, dtype);
      })->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
