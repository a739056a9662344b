// BF16 weights on AVX512-BF16 (MatmulIsa::Avx512Bf16): vdpbf16ps against
// activations split in two bf16, x ~ hi + lo. Skipped where the CPU lacks
// avx512_bf16 (but for the split itself, checked everywhere).
//
// Shapes: 131 rows (three 40-row chunks and 11 more; not a multiple of the
// row tiles 5 and 8), k = 333 (a masked tail of 13) and 2100 (a 2048-element slice
// and a partial one ending in a tail of 20), batches 1, 2, 7, 64, 130
// (token tiles of 4 and every remainder).
//
// The split: hi = bf16(x) keeps 8 significant bits, so |x - hi| <= 2^-8 |x|
// (half a unit in the 8th bit); x - hi is exact in f32 (x and hi share
// their leading bits), and lo = bf16(x - hi) is off by at most
// 2^-8 |x - hi| <= 2^-16 |x|.
//
// Bounds per output y = sum_i w_i x_i, stated from the arithmetic:
//  - against the f64 sum of w_i * (hi_i + lo_i): each bf16 x bf16 product is
//    exact in f32 (8 + 8 significant bits), so only the f32 sums round: per
//    lane 2 * ceil(k / 32) vdpbf16ps (hi, then lo), each adding two products
//    (at most two roundings), then 4 levels of the 16-lane horizontal sum;
//    with m = 4 * ceil(k / 32) + 4 and u = 2^-24,
//    |error| <= m * u * sum_i |w_i| (|hi_i| + |lo_i|) (first order; a factor
//    1.01 covers the rest);
//  - against the f64 sum of w_i * x_i (the exact f32 product): the split
//    adds 2^-16 * sum_i |w_i x_i| to the bound above.
// Activations rounded once to bf16 (no lo) would miss the second bound by
// ~2^-9 sqrt(k) / (2^-16 k) (for k = 333: ~7x).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/matmul/matmul.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/scalar_types.h"
#include "backends/cpu/thread_pool.h"
#include "test_matmul_inputs.h"

namespace pocketllm {
namespace {

constexpr int64_t kRows = 131;
constexpr int64_t kKs[] = {333, 2100};
constexpr int64_t kBatches[] = {1, 2, 7, 64, 130};

bool has_bf16_kernels() { return matmul_isa_usable(MatmulIsa::Avx512Bf16, probe_cpu().simd); }

std::vector<uint16_t> random_bf16_weights(int64_t rows, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<uint16_t> w(static_cast<size_t>(rows * k));
  for (uint16_t& v : w) v = f32_to_bf16(u(rng));
  return w;
}

using test_support::random_activations;

WeightMatrix bf16_matrix(const std::vector<uint16_t>& w, int64_t rows, int64_t k) {
  return {GgmlType::BF16, reinterpret_cast<const std::byte*>(w.data()), rows, k};
}

// Y of n tokens with the activations rounded in two token ranges and rows
// split among `threads` threads of a pool, as the engine does.
std::vector<float> product(const MatmulKernels& kernels, const WeightMatrix& w, const float* x, int64_t n,
                           unsigned threads) {
  std::vector<std::byte> scratch(kernels.activation_bytes(w.type, n, w.k));
  const PreparedActivations a = kernels.describe_activations(w.type, x, n, w.k, scratch);
  MatmulKernels::quantize_tokens(a, 0, n / 2);
  MatmulKernels::quantize_tokens(a, n / 2, n);
  std::vector<float> y(static_cast<size_t>(n * w.rows), -1.0f);
  ThreadPool pool(threads);
  pool.parallel_for(threads, [&](size_t task, unsigned) {
    const auto t = static_cast<unsigned>(task);
    const auto rows = static_cast<size_t>(w.rows);
    kernels.multiply_rows(w, a, y.data(), w.rows, static_cast<int64_t>(ThreadPool::task_begin(rows, t, threads)),
                          static_cast<int64_t>(ThreadPool::task_begin(rows, t + 1, threads)));
  });
  return y;
}

void expect_same_bits(const float* a, const float* b, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << i;
  }
}

// Per 32 elements 32 hi then 32 lo, zeros past n; hi is x rounded to
// nearest even, lo the rest of x rounded, hi + lo within 2^-16 |x|.
TEST(MatmulBf16, SplitRowGivesHiAndLoWithinTwoToTheMinus16) {
  std::mt19937 rng(11);
  const int64_t n = 333;  // 10 full vectors and 13 elements
  auto x = random_activations(1, n, rng);
  x[0] = 1.0f + std::ldexp(1.0f, -8);  // a tie: to even (1.0), lo = 2^-8
  std::vector<uint16_t> out(11 * 64, 0xFFFF);
  split_row_bf16(x.data(), out.data(), n);
  EXPECT_EQ(out[0], 0x3F80);
  EXPECT_EQ(bf16_to_f32(out[32]), std::ldexp(1.0f, -8));
  for (int64_t i = 0; i < 11 * 32; ++i) {
    const uint16_t hi = out[static_cast<size_t>(i / 32 * 64 + i % 32)];
    const uint16_t lo = out[static_cast<size_t>(i / 32 * 64 + 32 + i % 32)];
    if (i >= n) {
      EXPECT_EQ(hi, 0) << i;
      EXPECT_EQ(lo, 0) << i;
      continue;
    }
    const float xi = x[static_cast<size_t>(i)];
    EXPECT_EQ(hi, f32_to_bf16(xi)) << i;
    EXPECT_EQ(lo, f32_to_bf16(xi - bf16_to_f32(hi))) << i;
    const double sum = static_cast<double>(bf16_to_f32(hi)) + static_cast<double>(bf16_to_f32(lo));
    EXPECT_LE(std::fabs(sum - static_cast<double>(xi)), std::ldexp(std::fabs(static_cast<double>(xi)), -16)) << i;
  }
}

TEST(MatmulBf16, IsaIsTheDefaultAndSplitsActivationsOnlyForBf16Weights) {
  if (!has_bf16_kernels()) GTEST_SKIP() << "no avx512_bf16 on this CPU";
  EXPECT_EQ(best_matmul_isa(probe_cpu().simd), MatmulIsa::Avx512Bf16);
  const MatmulKernels bf16(MatmulIsa::Avx512Bf16);
  const MatmulKernels avx512(MatmulIsa::Avx512);
  EXPECT_EQ(bf16.activation_format(GgmlType::BF16), ActivationFormat::Bf16);
  EXPECT_EQ(avx512.activation_format(GgmlType::BF16), ActivationFormat::F32);
  EXPECT_EQ(bf16.activation_bytes(GgmlType::BF16, 3, 333), size_t{3 * 11 * 64 * 2});  // 333 -> 11 vectors
  EXPECT_FALSE(bf16.uses_panels(GgmlType::BF16, 64));
  EXPECT_EQ(bf16.preferred_layout(GgmlType::BF16, 64), WeightLayout::Gguf);
  // Other types take the Avx512 kernels: the same bits.
  for (const GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q4_0}) {
    EXPECT_EQ(bf16.activation_format(type), avx512.activation_format(type));
  }
  std::mt19937 rng(5);
  const std::vector<float> wf = random_activations(37, 64, rng);
  const WeightMatrix w{GgmlType::F32, reinterpret_cast<const std::byte*>(wf.data()), 37, 64};
  const auto x = random_activations(5, 64, rng);
  const auto y_bf16 = product(bf16, w, x.data(), 5, 1);
  const auto y_avx512 = product(avx512, w, x.data(), 5, 1);
  expect_same_bits(y_bf16.data(), y_avx512.data(), y_bf16.size());
}

TEST(MatmulBf16, MatchesReferencesWithinBounds) {
  if (!has_bf16_kernels()) GTEST_SKIP() << "no avx512_bf16 on this CPU";
  const MatmulKernels kernels(MatmulIsa::Avx512Bf16);
  std::mt19937 rng(2024);
  for (const int64_t k : kKs) {
    const auto w = random_bf16_weights(kRows, k, rng);
    const double m = 4.0 * static_cast<double>((k + 31) / 32) + 4.0;
    const double sum_rounding = 1.01 * m * std::ldexp(1.0, -24);
    for (const int64_t n : kBatches) {
      SCOPED_TRACE("k=" + std::to_string(k) + " n=" + std::to_string(n));
      const auto x = random_activations(n, k, rng);
      const auto y = product(kernels, bf16_matrix(w, kRows, k), x.data(), n, 1);
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t r = 0; r < kRows; ++r) {
          double split = 0, split_abs = 0, exact = 0, exact_abs = 0;
          for (int64_t i = 0; i < k; ++i) {
            const auto wi = static_cast<double>(bf16_to_f32(w[static_cast<size_t>(r * k + i)]));
            const float xi = x[static_cast<size_t>(t * k + i)];
            const float hi = bf16_to_f32(f32_to_bf16(xi));
            const auto lo = static_cast<double>(bf16_to_f32(f32_to_bf16(xi - hi)));
            split += wi * (static_cast<double>(hi) + lo);
            split_abs += std::fabs(wi) * (std::fabs(static_cast<double>(hi)) + std::fabs(lo));
            exact += wi * static_cast<double>(xi);
            exact_abs += std::fabs(wi * static_cast<double>(xi));
          }
          const auto got = static_cast<double>(y[static_cast<size_t>(t * kRows + r)]);
          ASSERT_NEAR(got, split, sum_rounding * split_abs) << "t=" << t << " r=" << r;
          ASSERT_NEAR(got, exact, std::ldexp(1.0, -16) * exact_abs + sum_rounding * split_abs)
              << "t=" << t << " r=" << r;
        }
      }
    }
  }
}

TEST(MatmulBf16, ThreadsRowSplitsAndBatchesGiveBitIdenticalResults) {
  if (!has_bf16_kernels()) GTEST_SKIP() << "no avx512_bf16 on this CPU";
  const MatmulKernels kernels(MatmulIsa::Avx512Bf16);
  std::mt19937 rng(77);
  for (const int64_t k : kKs) {
    const auto w_bits = random_bf16_weights(kRows, k, rng);
    const WeightMatrix w = bf16_matrix(w_bits, kRows, k);
    for (const int64_t n : kBatches) {
      SCOPED_TRACE("k=" + std::to_string(k) + " n=" + std::to_string(n));
      const auto x = random_activations(n, k, rng);
      const auto one = product(kernels, w, x.data(), n, 1);
      for (const unsigned threads : {2u, 4u}) {
        const auto split = product(kernels, w, x.data(), n, threads);
        expect_same_bits(split.data(), one.data(), one.size());
      }
      // The last token alone (another token tile, a batch of 1) gives the same bits.
      const auto last = product(kernels, w, x.data() + (n - 1) * k, 1, 1);
      expect_same_bits(last.data(), one.data() + (n - 1) * kRows, static_cast<size_t>(kRows));
    }
  }
}

}  // namespace
}  // namespace pocketllm
