// The paged KV cache (block bookkeeping, f32/f16 storage, sliding-window
// release) and tiled attention over it, checked against a dense reference:
// a full softmax in double over plain K/V arrays.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "backends/cpu/attention/fp16_convert.h"
#include "backends/cpu/attention/paged_attention.h"
#include "backends/cpu/quant/scalar_types.h"
#include "kv/paged_kv_cache.h"
#include "test_model_descs.h"

namespace pocketllm {
namespace {

using test_support::two_layer_desc;

float round_f16(float x) { return fp16_to_f32(f32_to_fp16(x)); }

// The K/V a sequence has stored, densely: [layer][pos][n_kv_heads * dim].
struct DenseSequence {
  std::vector<std::vector<std::vector<float>>> k;
  std::vector<std::vector<std::vector<float>>> v;
};

class Harness {
 public:
  Harness(const ModelDesc& desc, const KvCacheOptions& options, uint32_t seed)
      : desc_(desc), cache_(desc, options), rng_(seed) {}

  PagedKvCache& cache() { return cache_; }
  const DenseSequence& dense(SeqId seq) { return seqs_[seq]; }

  // Reserves and stores n random tokens of `seq` in every layer.
  void append(SeqId seq, uint32_t n) {
    const uint32_t start = cache_.sequence_length(seq);
    ASSERT_TRUE(cache_.reserve(seq, n));
    DenseSequence& s = seqs_[seq];
    s.k.resize(desc_.n_layers);
    s.v.resize(desc_.n_layers);
    for (uint32_t layer = 0; layer < desc_.n_layers; ++layer) {
      for (uint32_t pos = start; pos < start + n; ++pos) {
        std::vector<float> k = random_vector(desc_.n_kv_heads * desc_.head_dim_k);
        std::vector<float> v = random_vector(desc_.n_kv_heads * desc_.head_dim_v);
        cache_.store(layer, seq, pos, k.data(), v.data());
        s.k[layer].push_back(std::move(k));
        s.v[layer].push_back(std::move(v));
      }
    }
  }

  std::vector<float> random_vector(size_t n, float amplitude = 1.0f) {
    std::uniform_real_distribution<float> dist(-amplitude, amplitude);
    std::vector<float> x(n);
    for (float& e : x) e = dist(rng_);
    return x;
  }

 private:
  ModelDesc desc_;
  PagedKvCache cache_;
  std::mt19937 rng_;
  std::map<SeqId, DenseSequence> seqs_;
};

// Dense reference in double; K/V rounded to f16 first when `f16_k` / `f16_v`.
std::vector<float> reference_attention(const AttentionParams& p, const DenseSequence& s, uint32_t layer,
                                       uint32_t pos, const std::vector<float>& q, bool f16_k, bool f16_v) {
  const uint32_t group = p.n_heads / p.n_kv_heads;
  const uint32_t first = p.window != 0 && pos + 1 > p.window ? pos + 1 - p.window : 0;
  std::vector<float> out(static_cast<size_t>(p.n_heads) * p.head_dim_v);
  for (uint32_t h = 0; h < p.n_heads; ++h) {
    const uint32_t g = h / group;
    std::vector<double> scores;
    for (uint32_t j = first; j <= pos; ++j) {
      double dot = 0.0;
      for (uint32_t d = 0; d < p.head_dim_k; ++d) {
        const float k = s.k[layer][j][g * p.head_dim_k + d];
        dot += static_cast<double>(q[h * p.head_dim_k + d]) * static_cast<double>(f16_k ? round_f16(k) : k);
      }
      dot *= static_cast<double>(p.scale);
      const auto cap = static_cast<double>(p.softcap);
      if (cap > 0.0) dot = cap * std::tanh(dot / cap);
      scores.push_back(dot);
    }
    double m = p.sinks != nullptr ? static_cast<double>(p.sinks[h])
                                  : -std::numeric_limits<double>::infinity();
    for (const double x : scores) m = std::fmax(m, x);
    double sum = p.sinks != nullptr ? std::exp(static_cast<double>(p.sinks[h]) - m) : 0.0;
    for (double& x : scores) sum += (x = std::exp(x - m));
    for (uint32_t d = 0; d < p.head_dim_v; ++d) {
      double acc = 0.0;
      for (uint32_t j = first; j <= pos; ++j) {
        const float v = s.v[layer][j][g * p.head_dim_v + d];
        acc += scores[j - first] * static_cast<double>(f16_v ? round_f16(v) : v);
      }
      out[h * p.head_dim_v + d] = static_cast<float>(acc / sum);
    }
  }
  return out;
}

double relative_error(const std::vector<float>& ours, const std::vector<float>& ref) {
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = static_cast<double>(ours[i]) - static_cast<double>(ref[i]);
    diff += e * e;
    norm += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return std::sqrt(diff / norm);
}

// Twice the usual scale: peakier softmax, so that mistakes in which keys are
// visible show.
AttentionParams params_for(const ModelDesc& d, uint32_t layer) {
  return test_support::attention_params(d, 2.0f, d.layer_is_sliding(layer) ? d.sliding_window : 0);
}

// Attention of random queries at positions [from, to) of `seq` in `layer`
// against the reference; returns the largest relative error.
double max_error(Harness& h, const ModelDesc& d, const AttentionParams& p, uint32_t layer, SeqId seq,
                 uint32_t from, uint32_t to, bool ref_f16_k, bool ref_f16_v) {
  AttentionScratch scratch(p, h.cache().options().block_tokens);
  double worst = 0.0;
  std::vector<float> out(static_cast<size_t>(d.n_heads) * d.head_dim_v);
  for (uint32_t pos = from; pos < to; ++pos) {
    const std::vector<float> q = h.random_vector(static_cast<size_t>(d.n_heads) * d.head_dim_k);
    paged_attention(p, h.cache(), layer, seq, pos, q.data(), out.data(), scratch);
    const std::vector<float> ref = reference_attention(p, h.dense(seq), layer, pos, q, ref_f16_k, ref_f16_v);
    worst = std::max(worst, relative_error(out, ref));
  }
  return worst;
}

// f32 arithmetic over at most a few hundred terms: relative error a few
// float ulps (2^-24 = 6e-8); measured up to 5e-7.
constexpr double kF32Tolerance = 2e-6;
// f16 storage rounds each K and V element with relative error <= 2^-11
// (4.9e-4); the output error against unrounded K/V is of that order (scores
// shift by about |q||k| 2^-11 scale, V by 2^-11): measured up to 3.8e-4.
constexpr double kF16Tolerance = 2.0 * 4.9e-4;

struct Shape {
  uint32_t group;  // query heads per KV head
  uint32_t dk;
  uint32_t dv;
};

// Runs the enclosing scope with f32 / f16 K and V read by the 256-bit loops
// even where the CPU has AVX-512.
struct Attention256Bit {
  Attention256Bit() { set_512_bit_float_attention(false); }
  ~Attention256Bit() { set_512_bit_float_attention(true); }
  Attention256Bit(const Attention256Bit&) = delete;
  Attention256Bit& operator=(const Attention256Bit&) = delete;
};

// Every shape and dtype with the default loops (512-bit where the CPU and
// dims allow), then with the 256-bit ones.
void expect_dense_reference_matches();

TEST(PagedAttention, MatchesDenseReferenceAcrossShapesAndDtypes) { expect_dense_reference_matches(); }

TEST(PagedAttention, MatchesDenseReferenceWith256BitLoops) {
  const Attention256Bit narrow;
  expect_dense_reference_matches();
}

void expect_dense_reference_matches() {
  const std::vector<Shape> shapes = {{1, 8, 8},   {2, 16, 16},  {4, 32, 32},  {1, 64, 64}, {2, 128, 128},
                                     {4, 8, 16},  {1, 16, 8},   {2, 32, 64},  {4, 64, 32}, {1, 128, 96},
                                     {2, 8, 8},   {4, 128, 128}, {3, 64, 64},
                                     // Dims not multiples of 8: the portable loops on x86 too.
                                     {2, 12, 20}, {5, 4, 4}};
  for (const Shape& shape : shapes) {
    for (const KvDtype dtype : {KvDtype::F32, KvDtype::F16}) {
      const uint32_t n_kv = 2;
      const ModelDesc d = two_layer_desc(n_kv * shape.group, n_kv, shape.dk, shape.dv, /*window=*/11);
      KvCacheOptions o;
      o.k_dtype = dtype;
      o.v_dtype = dtype;
      o.block_tokens = 8;
      o.n_blocks = 16;
      Harness h(d, o, shape.dk * 131 + shape.group);
      h.append(3, 29);  // 29: not a multiple of block_tokens
      const bool f16 = dtype == KvDtype::F16;
      for (uint32_t layer = 0; layer < 2; ++layer) {
        const AttentionParams p = params_for(d, layer);
        SCOPED_TRACE(testing::Message() << "group " << shape.group << " dk " << shape.dk << " dv " << shape.dv
                                        << (f16 ? " f16" : " f32") << " layer " << layer);
        // Against the reference that sees the same (rounded) K/V.
        EXPECT_LT(max_error(h, d, p, layer, 3, 0, 29, f16, f16), kF32Tolerance);
        if (f16) {
          EXPECT_LT(max_error(h, d, p, layer, 3, 0, 29, false, false), kF16Tolerance);
        }
      }
    }
  }
}

TEST(PagedAttention, MixedKvDtypes) {
  const ModelDesc d = two_layer_desc(4, 2, 32, 16, 0);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F16;
  o.v_dtype = KvDtype::F32;
  o.block_tokens = 16;
  o.n_blocks = 8;
  Harness h(d, o, 5);
  h.append(0, 40);
  EXPECT_LT(max_error(h, d, params_for(d, 0), 0, 0, 0, 40, true, false), kF32Tolerance);
  o.k_dtype = KvDtype::F32;
  o.v_dtype = KvDtype::F16;
  Harness h2(d, o, 6);
  h2.append(0, 40);
  EXPECT_LT(max_error(h2, d, params_for(d, 0), 0, 0, 0, 40, false, true), kF32Tolerance);
}

TEST(PagedAttention, SoftcapAndSinks) {
  const ModelDesc d = two_layer_desc(4, 2, 16, 16, 6);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F32;
  o.v_dtype = KvDtype::F32;
  o.block_tokens = 4;
  o.n_blocks = 16;
  Harness h(d, o, 7);
  h.append(1, 23);
  // Sinks: below, around and far above the scores (the last one takes
  // nearly all the mass, so the output shrinks towards 0).
  const std::vector<float> sinks = {-3.0f, 0.5f, 2.0f, 40.0f};
  for (uint32_t layer = 0; layer < 2; ++layer) {
    AttentionParams p = params_for(d, layer);
    p.scale = 3.0f;  // scores of tens: the cap of 20 bends them a lot
    p.softcap = 20.0f;
    EXPECT_LT(max_error(h, d, p, layer, 1, 0, 23, false, false), kF32Tolerance) << "softcap, layer " << layer;
    p.softcap = 0.0f;
    p.scale = 0.5f;
    p.sinks = sinks.data();
    EXPECT_LT(max_error(h, d, p, layer, 1, 0, 23, false, false), kF32Tolerance) << "sinks, layer " << layer;
    p.softcap = 20.0f;
    p.scale = 3.0f;
    EXPECT_LT(max_error(h, d, p, layer, 1, 0, 23, false, false), kF32Tolerance) << "both, layer " << layer;
  }
}

// paged_attention_rows walks the blocks once for a tile of rows; each row's
// output must be the same bits as computing that row alone (what batch
// invariance and prefill chunking rely on), for every storage format and
// both the SIMD and portable paths, with windows, soft-caps and sinks.
TEST(PagedAttention, RowTilesMatchSingleRowsBitForBit) {
  const std::vector<float> sinks = {-1.0f, 0.5f, 2.0f, 1.0f, 0.0f, -2.0f, 3.0f, 0.25f};
  for (const Shape shape : {Shape{4, 64, 64}, Shape{2, 16, 32}, Shape{2, 12, 20}}) {
    for (const KvDtype dtype : {KvDtype::F32, KvDtype::F16, KvDtype::BF16, KvDtype::Q8, KvDtype::Q4}) {
      const ModelDesc d = two_layer_desc(2 * shape.group, 2, shape.dk, shape.dv, /*window=*/37);
      KvCacheOptions o;
      o.k_dtype = dtype;
      o.v_dtype = dtype;
      o.block_tokens = 16;
      o.n_blocks = 24;
      Harness h(d, o, shape.dk + static_cast<uint32_t>(dtype));
      h.append(2, 90);
      AttentionScratch tile_scratch(params_for(d, 0), o.block_tokens);
      AttentionScratch row_scratch(params_for(d, 0), o.block_tokens);
      // Rows of a chunk, a short tile at the end, and scattered positions.
      const std::vector<std::vector<uint32_t>> tiles = {
          {40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55}, {85, 86, 87, 88, 89}, {3, 17, 64, 89}};
      for (uint32_t layer = 0; layer < 2; ++layer) {
        for (int variant = 0; variant < 3; ++variant) {
          AttentionParams p = params_for(d, layer);
          if (variant == 1) p.softcap = 1.5f;
          if (variant == 2) p.sinks = sinks.data();
          const size_t q_dim = size_t{d.n_heads} * d.head_dim_k;
          const size_t out_dim = size_t{d.n_heads} * d.head_dim_v;
          for (const std::vector<uint32_t>& positions : tiles) {
            SCOPED_TRACE(testing::Message() << "dk " << shape.dk << " dtype " << static_cast<int>(dtype) << " layer "
                                            << layer << " variant " << variant << " first " << positions[0]);
            // Strides wider than a row, as in the model's qkv buffer.
            const size_t q_stride = q_dim + 24;
            const size_t out_stride = out_dim + 8;
            const std::vector<float> q = h.random_vector(positions.size() * q_stride);
            std::vector<float> tiled(positions.size() * out_stride, -7.0f);
            const AttentionRows rows{positions, q.data(), q_stride, tiled.data(), out_stride};
            paged_attention_rows(p, h.cache(), layer, 2, rows, tile_scratch, 0, d.n_kv_heads);
            std::vector<float> alone(out_dim);
            for (size_t i = 0; i < positions.size(); ++i) {
              paged_attention(p, h.cache(), layer, 2, positions[i], q.data() + i * q_stride, alone.data(),
                              row_scratch);
              ASSERT_EQ(0, std::memcmp(alone.data(), tiled.data() + i * out_stride, out_dim * sizeof(float)))
                  << "row " << i;
              EXPECT_EQ(tiled[i * out_stride + out_dim], -7.0f) << "wrote past its row";
            }
          }
        }
      }
    }
  }
}

// Past kAttentionPartitionKeys a row's keys are taken in partitions merged in
// order. The split form (one partition per call, as threads run them, then
// the merge) must give the sequential form's bits, and both the dense
// reference's values, with windows that start inside a partition, sinks
// (counted once) and every storage format.
TEST(PagedAttention, SplitPartitionsMatchSequentialBitForBit) {
  const std::vector<float> sinks = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.5f, 3.0f, 1.0f};
  constexpr uint32_t kTokens = 2 * kAttentionPartitionKeys + 300;
  for (const KvDtype dtype : {KvDtype::F32, KvDtype::F16, KvDtype::Q8, KvDtype::Q4}) {
    const ModelDesc d = two_layer_desc(8, 2, 64, 64, /*window=*/kAttentionPartitionKeys + 200);
    KvCacheOptions o;
    o.k_dtype = dtype;
    o.v_dtype = dtype;
    o.block_tokens = 32;
    o.n_blocks = 2 * (kTokens / 32 + 1);
    Harness h(d, o, 40 + static_cast<uint32_t>(dtype));
    h.append(1, kTokens);
    AttentionScratch scratch(params_for(d, 0), o.block_tokens);
    for (uint32_t layer = 0; layer < 2; ++layer) {
      for (const bool with_sinks : {false, true}) {
        AttentionParams p = params_for(d, layer);
        p.scale = 0.5f / std::sqrt(64.0f);  // flat softmax: every partition carries weight
        if (with_sinks) p.sinks = sinks.data();
        for (const uint32_t pos : {kAttentionPartitionKeys - 1, kAttentionPartitionKeys, kTokens - 1,
                                   kAttentionPartitionKeys + 700}) {
          SCOPED_TRACE(testing::Message() << "dtype " << static_cast<int>(dtype) << " layer " << layer << " sinks "
                                          << with_sinks << " pos " << pos);
          const std::vector<float> q = h.random_vector(size_t{d.n_heads} * d.head_dim_k);
          std::vector<float> sequential(size_t{d.n_heads} * d.head_dim_v);
          paged_attention(p, h.cache(), layer, 1, pos, q.data(), sequential.data(), scratch);
          const AttentionPartitions parts = attention_partitions(p, o.block_tokens, pos);
          EXPECT_EQ(parts.last, pos / kAttentionPartitionKeys);
          std::vector<float> split(sequential.size(), -3.0f);
          for (uint32_t g = 0; g < d.n_kv_heads; ++g) {
            std::vector<float> partials(parts.count() * attention_partial_floats(p));
            for (uint32_t part = parts.first; part <= parts.last; ++part) {
              paged_attention_partition(p, h.cache(), layer, 1, pos, q.data(), g, part,
                                        partials.data() + (part - parts.first) * attention_partial_floats(p),
                                        scratch);
            }
            paged_attention_merge(p, h.cache().v_layout(), g, partials.data(), parts.count(), split.data());
          }
          ASSERT_EQ(0, std::memcmp(sequential.data(), split.data(), split.size() * sizeof(float)));
          if (dtype == KvDtype::F32) {
            const std::vector<float> ref = reference_attention(p, h.dense(1), layer, pos, q, false, false);
            EXPECT_LT(relative_error(sequential, ref), kF32Tolerance * 4);
          }
        }
      }
      // A partition that holds none of the row's keys is refused.
      const AttentionParams p = params_for(d, layer);
      std::vector<float> partial(attention_partial_floats(p));
      const std::vector<float> q = h.random_vector(size_t{d.n_heads} * d.head_dim_k);
      EXPECT_THROW(paged_attention_partition(p, h.cache(), layer, 1, 100, q.data(), 0, 1, partial.data(), scratch),
                   std::invalid_argument);
    }
  }
}

TEST(PagedAttention, SoftcapChangesTheResult) {
  // Guards the test above: with these scores the cap matters.
  const ModelDesc d = two_layer_desc(2, 1, 16, 16, 0);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F32;
  o.v_dtype = KvDtype::F32;
  o.block_tokens = 4;
  o.n_blocks = 4;
  Harness h(d, o, 8);
  h.append(0, 10);
  AttentionParams p = params_for(d, 0);
  p.scale = 3.0f;
  const std::vector<float> q = h.random_vector(32);
  const std::vector<float> capped = [&] {
    AttentionParams c = p;
    c.softcap = 20.0f;
    return reference_attention(c, h.dense(0), 0, 9, q, false, false);
  }();
  EXPECT_GT(relative_error(capped, reference_attention(p, h.dense(0), 0, 9, q, false, false)), 1e-2);
}

TEST(PagedAttention, InterleavedSequencesWithScrambledBlocks) {
  const ModelDesc d = two_layer_desc(8, 2, 64, 64, 13);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F16;
  o.v_dtype = KvDtype::F16;
  o.block_tokens = 4;
  o.n_blocks = 40;
  Harness h(d, o, 9);
  // A throwaway sequence takes blocks and gives them back in the middle, so
  // the others get blocks out of order.
  h.append(99, 17);
  h.append(7, 3);
  h.cache().free_sequence(99);
  const std::vector<SeqId> ids = {7, 0, 1'000'000};
  for (uint32_t step = 0; step < 9; ++step) {
    for (size_t i = 0; i < ids.size(); ++i) h.append(ids[i], static_cast<uint32_t>(1 + (step + i) % 4));
  }
  // Tables are not in ascending order (reuse of freed blocks).
  const auto table = h.cache().block_table(0, 0);
  bool ascending = true;
  for (size_t i = 1; i < table.size(); ++i) ascending = ascending && table[i] > table[i - 1];
  EXPECT_FALSE(ascending);
  for (const SeqId seq : ids) {
    const uint32_t n = h.cache().sequence_length(seq);
    for (uint32_t layer = 0; layer < 2; ++layer) {
      EXPECT_LT(max_error(h, d, params_for(d, layer), layer, seq, 0, n, true, true), kF32Tolerance)
          << "seq " << seq << " layer " << layer;
    }
  }
}

TEST(PagedKvCache, BlocksForTokensAndPoolBytes) {
  EXPECT_EQ(PagedKvCache::blocks_for_tokens(32, 1, 16), 2u);
  EXPECT_EQ(PagedKvCache::blocks_for_tokens(33, 1, 16), 3u);
  EXPECT_EQ(PagedKvCache::blocks_for_tokens(0, 1, 16), 0u);
  // Any split of 33 tokens over 3 sequences (1 + 1 + 31, 17 + 15 + 1, ...)
  // needs at most floor((33 + 3 * 15) / 16) = 4 blocks.
  EXPECT_EQ(PagedKvCache::blocks_for_tokens(33, 3, 16), 4u);
  EXPECT_EQ(PagedKvCache::blocks_for_tokens(8, 8, 4), 8u);  // 8 sequences of 1 token

  const ModelDesc d = two_layer_desc(8, 2, 64, 32, 100);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F16;
  o.v_dtype = KvDtype::F32;
  o.block_tokens = 16;
  o.n_blocks = 10;
  o.n_window_blocks = 3;
  const PagedKvCache cache(d, o);
  // Per block and layer: K 2 heads x 16 x 64 x 2 bytes, V 2 x 16 x 32 x 4 bytes.
  const size_t per_block = 2 * 16 * 64 * 2 + 2 * 16 * 32 * 4;
  EXPECT_EQ(cache.pool_bytes(), per_block * (10 + 3));
  EXPECT_EQ(cache.n_groups(), 2u);
  EXPECT_EQ(cache.free_blocks(), 3u);
  EXPECT_EQ(cache.free_blocks_in_group(cache.layer_group(0)), 10u);
  EXPECT_EQ(cache.layer_window(1), 100u);
  EXPECT_EQ(cache.layer_window(0), 0u);
}

TEST(PagedKvCache, ExhaustionReturnsFalseAndChangesNothing) {
  const ModelDesc d = two_layer_desc(2, 1, 8, 8, 0);
  KvCacheOptions o;
  o.block_tokens = 4;
  o.n_blocks = 4;
  Harness h(d, o, 10);
  h.append(0, 10);  // 3 blocks
  EXPECT_EQ(h.cache().free_blocks(), 1u);
  EXPECT_FALSE(h.cache().reserve(1, 5));  // needs 2
  EXPECT_EQ(h.cache().free_blocks(), 1u);
  EXPECT_EQ(h.cache().sequence_length(1), 0u);
  EXPECT_TRUE(h.cache().block_table(0, 1).empty());
  EXPECT_FALSE(h.cache().reserve(0, 7));  // 17 tokens: 5 blocks
  EXPECT_EQ(h.cache().sequence_length(0), 10u);
  EXPECT_EQ(h.cache().block_table(0, 0).size(), 3u);
  EXPECT_EQ(h.cache().free_blocks(), 1u);
  // Still intact and usable.
  EXPECT_LT(max_error(h, d, params_for(d, 0), 0, 0, 0, 10, true, true), kF32Tolerance);
  EXPECT_TRUE(h.cache().reserve(0, 2));  // 12 tokens fit in 3 blocks
  EXPECT_EQ(h.cache().free_blocks(), 1u);
  h.append(0, 4);                        // 16 tokens: the last block
  EXPECT_EQ(h.cache().free_blocks(), 0u);
  EXPECT_TRUE(h.cache().reserve(5, 0));  // an empty sequence needs no block
  h.cache().free_sequence(0);
  EXPECT_EQ(h.cache().free_blocks(), 4u);
  EXPECT_EQ(h.cache().sequence_length(0), 0u);
}

TEST(PagedKvCache, WindowGroupExhaustionAlsoRefuses) {
  const ModelDesc d = two_layer_desc(2, 1, 8, 8, 4);
  KvCacheOptions o;
  o.block_tokens = 4;
  o.n_blocks = 8;
  o.n_window_blocks = 2;
  PagedKvCache cache(d, o);
  EXPECT_FALSE(cache.reserve(0, 9));  // 3 blocks: the full group has them, the window group not
  EXPECT_EQ(cache.free_blocks_in_group(cache.layer_group(0)), 8u);
  EXPECT_TRUE(cache.reserve(0, 8));
  // Once the window has moved on, released blocks make room again.
  EXPECT_EQ(cache.release_outside_window(0, 8), 1u);  // keys <= 4 dead: block 0 (keys 0-3)
  EXPECT_TRUE(cache.reserve(0, 4));
}

TEST(PagedKvCache, ReleaseOutsideWindowFreesExactlyTheDeadBlocks) {
  const uint32_t window = 10;
  const ModelDesc d = two_layer_desc(4, 2, 16, 16, window);
  KvCacheOptions o;
  o.k_dtype = KvDtype::F32;
  o.v_dtype = KvDtype::F32;
  o.block_tokens = 4;
  o.n_blocks = 32;
  Harness h(d, o, 11);
  h.append(2, 30);
  PagedKvCache& cache = h.cache();
  const uint32_t window_group = cache.layer_group(1);
  const uint32_t full_group = cache.layer_group(0);
  const uint32_t free_before = cache.free_blocks_in_group(window_group);
  EXPECT_EQ(cache.release_outside_window(2, window - 1), 0u);  // every key still visible to pos 9
  EXPECT_EQ(cache.release_outside_window(2, 12), 0u);          // keys <= 2 dead: no whole block
  // Outputs of queries at 27..29 before the release.
  const AttentionParams p = params_for(d, 1);
  AttentionScratch scratch(p, o.block_tokens);
  const std::vector<float> q = h.random_vector(4 * 16);
  std::vector<std::vector<float>> before;
  for (uint32_t pos = 27; pos < 30; ++pos) {
    before.emplace_back(4 * 16);
    paged_attention(p, cache, 1, 2, pos, q.data(), before.back().data(), scratch);
  }
  // Queries at >= 27 see keys > 17: keys 0..17 dead, blocks 0..3 (keys 0..15).
  EXPECT_EQ(cache.release_outside_window(2, 27), 4u);
  EXPECT_EQ(cache.free_blocks_in_group(window_group), free_before + 4);
  EXPECT_EQ(cache.free_blocks_in_group(full_group), 32u - 8u);  // full layers keep all 8
  EXPECT_EQ(cache.release_outside_window(2, 27), 0u);
  EXPECT_EQ(cache.release_outside_window(2, 28), 0u);  // keys <= 18: still block 4 (16..19) alive
  const auto table = cache.block_table(1, 2);
  ASSERT_EQ(table.size(), 8u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(table[i], PagedKvCache::kNoBlock);
  EXPECT_NE(table[4], PagedKvCache::kNoBlock);
  EXPECT_EQ(cache.block_table(0, 2)[0], 0u);  // the full layer's table is untouched

  // Another sequence reuses the released blocks (overwriting them); the
  // outputs of seq 2 are unchanged, bit for bit.
  h.append(3, 16);
  for (uint32_t pos = 27; pos < 30; ++pos) {
    std::vector<float> after(4 * 16);
    paged_attention(p, cache, 1, 2, pos, q.data(), after.data(), scratch);
    EXPECT_EQ(after, before[pos - 27]) << "pos " << pos;
  }
  // Generation goes on past the released blocks.
  h.append(2, 9);
  EXPECT_EQ(cache.release_outside_window(2, 38), 3u);  // keys <= 28 dead: blocks 4..6
  EXPECT_LT(max_error(h, d, p, 1, 2, 38, 39, false, false), kF32Tolerance);
  EXPECT_LT(max_error(h, d, params_for(d, 0), 0, 2, 0, 39, false, false), kF32Tolerance);
  // A query that would need a released block is refused.
  std::vector<float> out(4 * 16);
  EXPECT_THROW(paged_attention(p, cache, 1, 2, 30, q.data(), out.data(), scratch), std::invalid_argument);
  cache.free_sequence(2);
  cache.free_sequence(3);
  EXPECT_EQ(cache.free_blocks_in_group(window_group), 32u);
  EXPECT_EQ(cache.free_blocks_in_group(full_group), 32u);
}

TEST(PagedKvCache, MisuseThrows) {
  const ModelDesc d = two_layer_desc(2, 1, 8, 8, 4);
  KvCacheOptions o;
  o.block_tokens = 4;
  o.n_blocks = 4;
  PagedKvCache cache(d, o);
  const std::vector<float> kv(8, 1.0f);
  EXPECT_THROW(cache.reserve(-1, 1), std::invalid_argument);
  EXPECT_THROW(cache.store(0, 0, 0, kv.data(), kv.data()), std::invalid_argument);  // unknown sequence
  ASSERT_TRUE(cache.reserve(0, 3));
  EXPECT_THROW(cache.store(0, 0, 3, kv.data(), kv.data()), std::invalid_argument);  // not reserved
  EXPECT_THROW(cache.store(2, 0, 0, kv.data(), kv.data()), std::invalid_argument);  // no such layer
  AttentionParams p;
  p.n_heads = 2;
  p.n_kv_heads = 1;
  p.head_dim_k = 8;
  p.head_dim_v = 8;
  AttentionScratch scratch(p, 4);
  std::vector<float> out(16);
  EXPECT_THROW(paged_attention(p, cache, 0, 0, 3, kv.data(), out.data(), scratch), std::invalid_argument);
  EXPECT_THROW(paged_attention(p, cache, 1, 0, 0, kv.data(), out.data(), scratch), std::invalid_argument)
      << "window layer read without a window";
  AttentionParams wrong = p;
  wrong.head_dim_k = 16;
  EXPECT_THROW(paged_attention(wrong, cache, 0, 0, 0, kv.data(), out.data(), scratch), std::invalid_argument);
}

TEST(Fp16Convert, RowsMatchScalarConversionBitForBit) {
  // Values across the f16 range, incl. subnormals, ties and overflow.
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e6f, 6.0e-8f, 3.0e-8f, 1.0e-5f,
                          1.00048828125f, 1.000732421875f, -7.0e-6f, 0.333333f};
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> dist(-10.0f, 10.0f);
  while (x.size() < 77) x.push_back(dist(rng) * std::pow(10.0f, dist(rng) / 2.0f));
  std::vector<uint16_t> h(x.size());
  f32_to_f16_row(x.data(), h.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(h[i], f32_to_fp16(x[i])) << x[i];
  std::vector<float> back(x.size());
  f16_to_f32_row(h.data(), back.data(), h.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(back[i], fp16_to_f32(h[i])) << h[i];
}

}  // namespace
}  // namespace pocketllm
