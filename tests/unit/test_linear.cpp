// model/blocks/linear.h: fused projections on the thread pool give, for any
// thread count, exactly the single-threaded matmul of each output (the
// threading contract of matmul.h), in every path run_linear takes: decode
// tokens (each thread quantizes its own copy of X), small batches (tokens
// quantized in parallel, rows in grains) and panels; and an epilogue sees
// every row once, after its rows were computed.
#include "model/blocks/linear.h"

#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_info.h"
#include "model/activation_arena.h"
#include "test_matmul_inputs.h"
#include "tools/weight_quantizer.h"

namespace pocketllm {
namespace {

struct Matrix {
  std::vector<std::byte> bytes;
  WeightMatrix w;
};

// rows x k random weights quantized to `type`, in the layout the kernels prefer (repacked as at load).
Matrix make_matrix(const MatmulKernels& kernels, GgmlType type, int64_t rows, int64_t k, std::mt19937& rng) {
  const auto values = test_support::random_activations(rows, k, rng);
  Matrix m;
  const WeightMatrix gguf{type, nullptr, rows, k};
  std::vector<std::byte> file(gguf.row_bytes() * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, values.data() + r * k, file.data() + static_cast<size_t>(r) * gguf.row_bytes(), k);
  }
  const WeightLayout layout = kernels.preferred_layout(type, rows);
  m.bytes.resize(file.size());
  MatmulKernels::repack({type, file.data(), rows, k}, layout, m.bytes);
  m.w = {type, m.bytes.data(), rows, k, layout};
  return m;
}

// The single-threaded product of n tokens: what every split must give.
std::vector<float> single_threaded(const MatmulKernels& kernels, const Matrix& m, const std::vector<float>& x,
                                   int64_t n) {
  std::vector<float> y(static_cast<size_t>(n * m.w.rows));
  matmul(kernels, m.w, x.data(), n, y.data());
  return y;
}

class LinearThreads : public testing::TestWithParam<GgmlType> {};

TEST_P(LinearThreads, EveryThreadCountGivesTheSingleThreadedProduct) {
  const GgmlType type = GetParam();
  const MatmulKernels kernels(best_matmul_isa(probe_cpu().simd));
  std::mt19937 rng(99);
  const int64_t k = 512;
  // (Types with a weight quantizer: tools/weight_quantizer.h.) 136 and 72
  // rows: 17 and 9 groups of 8; with k = 512 one token is over the parallel
  // threshold.
  const Matrix a = make_matrix(kernels, type, 136, k, rng);
  const Matrix b = make_matrix(kernels, type, 72, k, rng);
  for (const int64_t n : {1, 3, 20}) {
    const auto x = test_support::random_activations(n, k, rng);
    const std::vector<float> ref_a = single_threaded(kernels, a, x, n);
    const std::vector<float> ref_b = single_threaded(kernels, b, x, n);
    for (const unsigned threads : {1u, 2u, 4u}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " threads=" + std::to_string(threads));
      ThreadPool pool(threads);
      CpuContext ctx(pool, kernels);
      std::vector<float> ya(ref_a.size(), -1.0f), yb(ref_b.size(), -1.0f);
      const LinearOutput outputs[] = {{&a.w, ya.data(), a.w.rows}, {&b.w, yb.data(), b.w.rows}};
      for (int repeat = 0; repeat < 2; ++repeat) {  // the second run reuses the grown scratch
        run_linear(ctx, x.data(), n, outputs);
        EXPECT_EQ(ya, ref_a);
        EXPECT_EQ(yb, ref_b);
      }
      // The scratch stays within what the memory estimate budgets for n rows and these threads.
      const WeightMatrix matrices[] = {a.w, b.w};
      EXPECT_LE(ctx.activation_scratch.size(), quantized_activation_bytes(kernels, matrices, static_cast<size_t>(n), threads));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, LinearThreads,
                         testing::Values(GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K,
                                         GgmlType::Q5_K, GgmlType::F16),
                         [](const testing::TestParamInfo<GgmlType>& param_info) {
                           return std::string(ggml_type_name(param_info.param));
                         });

// The epilogue of equal-row outputs: each row once, with that row of every output final.
TEST(LinearEpilogue, SeesEveryRowOnceAfterItsProducts) {
  const MatmulKernels kernels(best_matmul_isa(probe_cpu().simd));
  std::mt19937 rng(5);
  const int64_t k = 256;
  const Matrix gate = make_matrix(kernels, GgmlType::Q4_0, 200, k, rng);
  const Matrix up = make_matrix(kernels, GgmlType::Q4_0, 200, k, rng);
  for (const int64_t n : {1, 2, 17}) {
    const auto x = test_support::random_activations(n, k, rng);
    std::vector<float> ref_gate = single_threaded(kernels, gate, x, n);
    std::vector<float> ref_up = single_threaded(kernels, up, x, n);
    for (const unsigned threads : {1u, 2u, 3u}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " threads=" + std::to_string(threads));
      ThreadPool pool(threads);
      CpuContext ctx(pool, kernels);
      std::vector<float> yg(ref_gate.size()), yu(ref_up.size());
      struct Seen {
        std::mutex mutex;
        std::vector<int> times;
        std::vector<float> *gate, *up, *ref_gate, *ref_up;
        int64_t n = 0;
        bool all_final = true;
      } seen;
      seen.times.assign(200, 0);
      seen.gate = &yg;
      seen.up = &yu;
      seen.ref_gate = &ref_gate;
      seen.ref_up = &ref_up;
      seen.n = n;
      const RowEpilogue epilogue{[](const void* context, int64_t begin, int64_t end) {
                                   auto& s = *static_cast<Seen*>(const_cast<void*>(context));
                                   const std::lock_guard<std::mutex> lock(s.mutex);
                                   for (int64_t r = begin; r < end; ++r) {
                                     ++s.times[static_cast<size_t>(r)];
                                     for (int64_t t = 0; t < s.n; ++t) {
                                       const auto i = static_cast<size_t>(t * 200 + r);
                                       s.all_final &= (*s.gate)[i] == (*s.ref_gate)[i] && (*s.up)[i] == (*s.ref_up)[i];
                                     }
                                   }
                                 },
                                 &seen};
      const LinearOutput outputs[] = {{&gate.w, yg.data(), 200}, {&up.w, yu.data(), 200}};
      run_linear(ctx, x.data(), n, outputs, &epilogue);
      EXPECT_EQ(seen.times, std::vector<int>(200, 1));
      EXPECT_TRUE(seen.all_final);
    }
  }
}

}  // namespace
}  // namespace pocketllm
