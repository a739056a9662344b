// The memory estimate (planner/memory_estimate.h) on the embedded
// stories260K (n_embd 64, 5 layers, 8 heads, 4 KV heads of 8, n_ff 172,
// vocab 512, f32 weights): each part against its closed form.
#include <gtest/gtest.h>

#include "model/model_source.h"
#include "planner/memory_estimate.h"

namespace pocketllm {
namespace {

MemoryEstimate estimate(uint32_t n_ctx, uint32_t chunk, unsigned threads = 2) {
  MemoryEstimateOptions options;
  options.n_ctx = n_ctx;
  options.max_batched_tokens = chunk;
  options.n_threads = threads;
  return estimate_memory(open_model_source(""), options);
}

TEST(MemoryEstimate, WeightsAreTheFileTensors) {
  const ModelSource source = open_model_source("");
  EXPECT_EQ(estimate(128, 64).weights_bytes, source.n_tensor_bytes);
}

TEST(MemoryEstimate, KvIsOneF16PoolOfWholeBlocksForNCtx) {
  const ModelSource source = open_model_source("");
  const ModelDesc& d = *source.desc;
  // 1000 tokens in 16-token blocks: 63 blocks; each holds, per layer, K and
  // V of 16 tokens x n_kv_heads x head_dim at 2 bytes.
  const uint64_t block_bytes = uint64_t{16} * d.n_kv_heads * (d.head_dim_k + d.head_dim_v) * 2;
  EXPECT_EQ(estimate(1000, 64).kv_bytes, 63 * d.n_layers * block_bytes);
}

TEST(MemoryEstimate, ActivationsFollowTheChunkNotTheContext) {
  const MemoryEstimate short_ctx = estimate(128, 64);
  const MemoryEstimate long_ctx = estimate(32768, 64);
  EXPECT_EQ(short_ctx.activations.total(), long_ctx.activations.total());
  EXPECT_GT(long_ctx.kv_bytes, short_ctx.kv_bytes);

  // Per row, DenseTransformer's buffers hold x, cur and the logit row
  // (3 x 64), q/k/v (64 + 2 x 32), attention out (64), gate/up and hidden
  // (3 x 172) and RoPE cos/sin (2 x 4): 908 floats.
  const MemoryEstimate doubled = estimate(128, 128);
  EXPECT_EQ(doubled.activations.row_buffers - short_ctx.activations.row_buffers, 64u * 908 * 4);
  EXPECT_EQ(short_ctx.activations.row_buffers, 64u * 908 * 4);
  // f32 weights multiply f32 activations: no quantized copy of X.
  EXPECT_EQ(short_ctx.activations.quantized_activations, 0u);
  // One logits row kept (run), the generator's copy of it and its last row.
  EXPECT_EQ(short_ctx.activations.logits, 3u * 512 * 4);
  // Attention scratch is per thread, the same for any chunk or context.
  EXPECT_EQ(doubled.activations.attention_scratch, short_ctx.activations.attention_scratch);
  EXPECT_EQ(estimate(128, 64, 4).activations.attention_scratch, 2 * short_ctx.activations.attention_scratch);
}

}  // namespace
}  // namespace pocketllm
