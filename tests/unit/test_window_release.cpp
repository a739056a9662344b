// Issue 6 item 5: sliding-window layers return their blocks to the pool as
// generation moves on (Model::forward calls release_outside_window for every
// sequence of the batch), so a long generation keeps the window group's
// blocks bounded while the full-attention group grows. gpt-oss's sink layers
// are sliding layers whose sinks are learned logits, not keys, so they keep
// exactly the same blocks.
//
// Model: the gemma3 golden bundle (window 8, layers 0, 1, 3 sliding, layer 2
// full). With 16-token blocks a query sees keys (p - 8, p], which span at
// most 2 blocks, plus the block being filled: at most 2 live window blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/ops/select.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "test_support.h"

namespace pocketllm {
namespace {

std::unique_ptr<Model> load_gemma3() {
  ModelLoadOptions options;
  options.n_threads = 2;
  return Model::load(test_support::test_data_path("golden/gemma3"), options);
}

// Group ids of the window and full groups.
struct Groups {
  uint32_t window = 0;
  uint32_t full = 0;
};

Groups groups_of(const PagedKvCache& cache) {
  Groups g;
  for (uint32_t layer = 0; layer < cache.n_layers(); ++layer) {
    (cache.layer_window(layer) != 0 ? g.window : g.full) = cache.layer_group(layer);
  }
  return g;
}

TEST(WindowRelease, GeneratorKeepsTheWindowGroupBounded) {
  std::unique_ptr<Model> model = load_gemma3();
  ASSERT_EQ(model->desc().sliding_window, 8u);
  const uint32_t n_ctx = 640;
  std::unique_ptr<PagedKvCache> cache = make_single_sequence_cache(model->desc(), n_ctx, KvDtype::F16);
  ASSERT_EQ(cache->n_groups(), 2u);
  const Groups g = groups_of(*cache);
  const uint32_t pool = cache->options().n_blocks;  // 40 blocks per group

  Generator generator(*model, *cache, n_ctx, nullptr, 0);
  generator.feed(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler sampler(greedy);
  uint32_t most_window_blocks = 0;
  generator.generate(sampler, 600, [&](TokenId, std::string_view) {
    most_window_blocks = std::max(most_window_blocks, pool - cache->free_blocks_in_group(g.window));
  });
  EXPECT_EQ(generator.n_past(), 620u);
  EXPECT_EQ(most_window_blocks, 2u);
  // The next query (position 620) sees keys 613..619 (and its own): all in block 38.
  EXPECT_EQ(pool - cache->free_blocks_in_group(g.window), 1u);
  EXPECT_EQ(pool - cache->free_blocks_in_group(g.full), 39u);   // ceil(620 / 16)
}

// The batch path: three sequences decode in shared ForwardBatches from a
// window pool of only 6 blocks (2 each, the most a sequence holds while it
// crosses a block boundary), which would run out after 32 tokens each if
// nothing were released: every reserve must succeed.
TEST(WindowRelease, BatchedSequencesShareASmallWindowPool) {
  std::unique_ptr<Model> model = load_gemma3();
  KvCacheOptions options;
  options.n_blocks = 3 * 20;
  options.n_window_blocks = 6;
  PagedKvCache cache(model->desc(), options);
  const Groups g = groups_of(cache);
  const size_t vocab = model->desc().vocab_size;

  std::vector<int32_t> last = {3, 5, 7};
  ForwardBatch batch;
  std::vector<float> logits;
  for (int32_t step = 0; step < 300; ++step) {
    batch.clear();
    for (SeqId s = 0; s < 3; ++s) {
      ASSERT_TRUE(cache.reserve(s, 1)) << "step " << step;
      batch.add_sequence_chunk(s, &last[static_cast<size_t>(s)], 1, step, true);
    }
    model->forward(batch, cache, logits);
    for (size_t s = 0; s < 3; ++s) {
      last[s] = static_cast<int32_t>(ops::argmax(std::span<const float>(logits.data() + s * vocab, vocab)));
    }
  }
  EXPECT_EQ(cache.sequence_length(2), 300u);
  // After position 299 each sequence keeps keys 292..299: one block (288..303).
  EXPECT_EQ(cache.free_blocks_in_group(g.window), 3u);
}

}  // namespace
}  // namespace pocketllm
