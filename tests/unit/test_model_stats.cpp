// Derived figures: the expected tensor list against the real tensor lists of
// the 14 golden bundles, parameter counts against published model-card
// figures, and KV-cache sizes against hand-computed numbers.
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "model/model_desc_hf.h"
#include "model/model_stats.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

using nlohmann::json;

ModelDesc describe_config(const std::string& file) {
  return describe_from_hf_config(load_test_json("configs/" + file), file);
}

double as_double(uint64_t count) { return static_cast<double>(count); }

const char* const kGoldenBundles[] = {"llama3",  "mistral",   "qwen2",     "qwen3",   "qwen3moe",
                                      "mixtral", "deepseek2", "deepseek3", "glm4moe", "glm4moelite",
                                      "gemma3",  "gemma2",    "gptoss",    "phi3"};

// HF checkpoint names (after "model.layers.N.") -> llama.cpp names, for the
// tensors that are stored the same way in both (not fused, not per expert).
std::string gguf_suffix(const std::string& hf, bool gemma) {
  static const std::map<std::string, std::string> names = {
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"self_attn.sinks", "attn_sinks.weight"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
      {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
      {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
      {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
      {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
      {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
      {"input_layernorm.weight", "attn_norm.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
      {"block_sparse_moe.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.router.weight", "ffn_gate_inp.weight"},
      {"mlp.router.bias", "ffn_gate_inp.bias"},
      {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
      {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
      {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
      {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
      {"mlp.experts.0.gate_proj.weight", "ffn_gate_exps.weight"},
      {"mlp.experts.0.up_proj.weight", "ffn_up_exps.weight"},
      {"mlp.experts.0.down_proj.weight", "ffn_down_exps.weight"},
      {"block_sparse_moe.experts.0.w1.weight", "ffn_gate_exps.weight"},
      {"block_sparse_moe.experts.0.w3.weight", "ffn_up_exps.weight"},
      {"block_sparse_moe.experts.0.w2.weight", "ffn_down_exps.weight"},
  };
  if (hf == "post_attention_layernorm.weight") {
    return gemma ? "post_attention_norm.weight" : "ffn_norm.weight";
  }
  auto it = names.find(hf);
  return it == names.end() ? "" : it->second;
}

TEST(ModelStats, ExpectedTensorsMatchEveryGoldenCheckpoint) {
  for (const char* bundle : kGoldenBundles) {
    SCOPED_TRACE(bundle);
    const json golden = load_test_json(std::string("golden/") + bundle + "/golden.json");
    const ModelDesc d = describe_from_hf_config(load_test_json(std::string("golden/") + bundle + "/config.json"), bundle);
    const ModelStats stats = compute_stats(d);

    // Parameters per layer (index n_layers: outside the layers) in the checkpoint...
    std::vector<uint64_t> golden_per_layer(d.n_layers + 1, 0);
    uint64_t golden_total = 0;
    std::map<std::string, std::vector<uint64_t>> golden_shapes;  // by llama.cpp name
    for (const json& tensor : golden["weights"]["tensors"]) {
      const std::string name = tensor[0].get<std::string>();
      uint64_t n = 1;
      for (const json& dim : tensor[1]) n *= dim.get<uint64_t>();
      golden_total += n;
      uint32_t slot = d.n_layers;
      if (name.rfind("model.layers.", 0) == 0) {
        const size_t dot = name.find('.', 13);
        slot = static_cast<uint32_t>(std::stoul(name.substr(13, dot - 13)));
        ASSERT_LT(slot, d.n_layers) << name;
        const std::string suffix = gguf_suffix(name.substr(dot + 1), d.post_norms);
        if (!suffix.empty()) {
          golden_shapes["blk." + std::to_string(slot) + "." + suffix] =
              tensor[1].get<std::vector<uint64_t>>();
        }
      }
      golden_per_layer[slot] += n;
    }
    // ...and in the description.
    std::vector<uint64_t> expected_per_layer(d.n_layers + 1, 0);
    for (const TensorSpec& t : stats.tensors) {
      expected_per_layer[t.layer < 0 ? d.n_layers : static_cast<uint32_t>(t.layer)] += t.n_elements();
    }
    EXPECT_EQ(stats.total_params, golden_total);
    for (uint32_t slot = 0; slot <= d.n_layers; ++slot) {
      EXPECT_EQ(expected_per_layer[slot], golden_per_layer[slot]) << "layer " << slot;
    }
    // Same shapes where both store a tensor the same way (experts: one slice).
    size_t compared = 0;
    for (const TensorSpec& t : stats.tensors) {
      auto it = golden_shapes.find(t.name);
      if (it == golden_shapes.end()) continue;
      std::vector<uint64_t> shape = t.shape;
      if (t.group == TensorGroup::RoutedExperts) shape.erase(shape.begin());
      EXPECT_EQ(shape, it->second) << t.name;
      ++compared;
    }
    EXPECT_EQ(compared, golden_shapes.size());
    // Untied models have an lm_head of their own.
    EXPECT_EQ(stats.output_params > 0, golden_per_layer[d.n_layers] > 320u * d.n_embd + 2 * d.n_embd);
  }
}

// Model-card figures are given to 0.1B (rounded or cut), hence 0.06B.
constexpr double kCardTolerance = 0.06e9;

TEST(ModelStats, ParameterCountsMatchModelCards) {
  // Exact totals published with the checkpoints (see tests/data/configs/SOURCES.md).
  EXPECT_EQ(compute_stats(describe_config("Llama-3.1-8B.json")).total_params, 8'030'261'248u);
  EXPECT_EQ(compute_stats(describe_config("Qwen3-8B.json")).total_params, 8'190'735'360u);
  EXPECT_EQ(compute_stats(describe_config("DeepSeek-V2-Lite.json")).total_params, 15'706'484'224u);
  // Meta's cards: Llama 3.2 1B 1.23B, 3B 3.21B; Mistral 7B v0.3: 7.25B.
  EXPECT_NEAR(as_double(compute_stats(describe_config("Llama-3.2-1B.json")).total_params), 1.23e9, 0.006e9);
  EXPECT_NEAR(as_double(compute_stats(describe_config("Llama-3.2-3B.json")).total_params), 3.21e9, 0.006e9);
  EXPECT_NEAR(as_double(compute_stats(describe_config("Mistral-7B-v0.3.json")).total_params), 7.25e9, 0.006e9);

  // Qwen3 cards: 4.0B total / 3.6B non-embedding (tied); 8.2B / 6.95B;
  // 30B-A3B: 30.5B total, 29.9B non-embedding, 3.3B activated.
  const ModelStats q4 = compute_stats(describe_config("Qwen3-4B.json"));
  EXPECT_NEAR(as_double(q4.total_params), 4.0e9, kCardTolerance);
  EXPECT_NEAR(as_double(q4.non_embedding_params), 3.6e9, kCardTolerance);
  EXPECT_NEAR(as_double(compute_stats(describe_config("Qwen3-8B.json")).non_embedding_params), 6.95e9, 0.006e9);
  const ModelStats q30 = compute_stats(describe_config("Qwen3-30B-A3B.json"));
  EXPECT_NEAR(as_double(q30.total_params), 30.5e9, kCardTolerance);
  EXPECT_NEAR(as_double(q30.non_embedding_params), 29.9e9, kCardTolerance);
  EXPECT_NEAR(as_double(q30.active_params), 3.3e9, kCardTolerance);

  // OpenAI's card: 20.91B total / 3.61B active; 116.83B / 5.13B (active
  // counts the unembedding, not the embedding).
  const ModelStats oss20 = compute_stats(describe_config("gpt-oss-20b.json"));
  EXPECT_NEAR(as_double(oss20.total_params), 20.91e9, 0.006e9);
  EXPECT_NEAR(as_double(oss20.active_params_excl_token_embd), 3.61e9, 0.006e9);
  const ModelStats oss120 = compute_stats(describe_config("gpt-oss-120b.json"));
  EXPECT_NEAR(as_double(oss120.total_params), 116.83e9, 0.006e9);
  EXPECT_NEAR(as_double(oss120.active_params_excl_token_embd), 5.13e9, 0.006e9);

  // DeepSeek-V2 paper: Lite has 15.7B total, 2.4B activated.
  const ModelStats lite = compute_stats(describe_config("DeepSeek-V2-Lite.json"));
  EXPECT_NEAR(as_double(lite.active_params_excl_token_embd), 2.4e9, kCardTolerance);

  // GLM-4.7-Flash: 31,221,488,576 parameters in the checkpoint, which also
  // holds the MTP layer: one more MoE decoder layer plus eh_proj [2048, 4096],
  // enorm/hnorm/shared_head.norm and its own embedding and head.
  const ModelDesc glm = describe_config("GLM-4.7-Flash.json");
  const ModelStats glm_stats = compute_stats(glm);
  uint64_t moe_layer = 0;
  for (const TensorSpec& t : glm_stats.tensors) moe_layer += t.layer == 1 ? t.n_elements() : 0;
  const uint64_t mtp = moe_layer + 2048u * 4096u + 3u * 2048u + 2u * 154880u * 2048u;
  EXPECT_EQ(glm_stats.total_params + mtp, 31'221'488'576u);
  EXPECT_NEAR(as_double(glm_stats.total_params), 30e9, 0.1e9);  // "30B-A3B"
  EXPECT_LT(glm_stats.active_params_excl_token_embd, 4e9);

  // Dense: active = total.
  const ModelStats llama = compute_stats(describe_config("Llama-3.1-8B.json"));
  EXPECT_EQ(llama.active_params, llama.total_params);
}

TEST(ModelStats, KvBytesPerTokenHandChecked) {
  // Llama-3.1-8B: 32 layers * (K + V) * 8 heads * 128 dims * 2 bytes.
  const KvCacheStats llama = compute_stats(describe_config("Llama-3.1-8B.json")).kv;
  EXPECT_EQ(llama.full_bytes_per_token(KvType::F16), 131'072u);
  EXPECT_EQ(llama.sliding_bytes_per_token(KvType::F16), 0u);
  // q8: 128 int8 + an f16 scale per row. q4: 64 bytes of nibbles per row;
  // K adds an f16 scale and minimum per channel per 16 tokens (128 * 4 / 16
  // = 32 bytes a row), V an f16 scale and minimum per row (4 bytes).
  EXPECT_EQ(llama.full_bytes_per_token(KvType::Q8), 32u * 2 * 8 * 130);
  EXPECT_EQ(llama.full_bytes_per_token(KvType::Q4), 32u * 8 * ((64 + 32) + (64 + 4)));
  EXPECT_EQ(llama.bytes_for_context(4096, KvType::F16), 131'072u * 4096);

  // Qwen3-30B-A3B: 48 layers * 2 * 4 KV heads * 128 * 2 bytes.
  EXPECT_EQ(compute_stats(describe_config("Qwen3-30B-A3B.json")).kv.full_bytes_per_token(KvType::F16),
            98'304u);

  // GLM-4.7-Flash latent: 47 layers * (512 + 64) * 2 bytes; expanded:
  // 47 * 20 heads * (256 K + 256 V) * 2 bytes (DESIGN.md: 0.21 vs 3.67 GiB at 4,096 tokens).
  const KvCacheStats glm = compute_stats(describe_config("GLM-4.7-Flash.json")).kv;
  EXPECT_TRUE(glm.mla);
  EXPECT_EQ(glm.full_bytes_per_token(KvType::F16), 54'144u);
  EXPECT_EQ(glm.expanded_bytes_per_token(KvType::F16), 962'560u);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  EXPECT_NEAR(static_cast<double>(glm.bytes_for_context(4096, KvType::F16)) / kGiB, 0.21, 0.005);
  EXPECT_NEAR(static_cast<double>(glm.expanded_bytes_for_context(4096, KvType::F16)) / kGiB, 3.67, 0.005);
  EXPECT_EQ(glm.full_bytes_per_token(KvType::Q8), 47u * (576 + 2));
  EXPECT_EQ(glm.full_bytes_per_token(KvType::Q4), 47u * (288 + 576 * 4 / 16));  // the latent is stored as K

  // gpt-oss-20b: 12 full + 12 sliding layers (window 128), 8 KV heads * 64 dims.
  const KvCacheStats oss = compute_stats(describe_config("gpt-oss-20b.json")).kv;
  EXPECT_EQ(oss.n_full_layers, 12u);
  EXPECT_EQ(oss.n_sliding_layers, 12u);
  EXPECT_EQ(oss.sliding_window, 128u);
  EXPECT_EQ(oss.full_bytes_per_token(KvType::F16), 12u * 2 * 8 * 64 * 2);  // 24,576
  EXPECT_EQ(oss.sliding_bytes_per_token(KvType::F16), 24'576u);
  EXPECT_EQ(oss.bytes_for_context(100, KvType::F16), 24'576u * 100 + 24'576u * 100);
  EXPECT_EQ(oss.bytes_for_context(4096, KvType::F16), 24'576u * 4096 + 24'576u * 128);
  EXPECT_EQ(oss.full_bytes_per_token(KvType::Q8), 12u * 2 * 8 * (64 + 2));

  // Gemma 3 4B: 34 layers, every 6th global -> 5 full + 29 sliding (window
  // 1024), 4 KV heads * 256 dims.
  const KvCacheStats gemma = compute_stats(describe_config("gemma-3-4b-it.json")).kv;
  EXPECT_EQ(gemma.n_full_layers, 5u);
  EXPECT_EQ(gemma.n_sliding_layers, 29u);
  EXPECT_EQ(gemma.full_bytes_per_token(KvType::F16), 5u * 2 * 4 * 256 * 2);
  EXPECT_EQ(gemma.sliding_bytes_per_token(KvType::F16), 29u * 2 * 4 * 256 * 2);
  EXPECT_EQ(gemma.bytes_for_context(32768, KvType::F16), 20'480u * 32768 + 118'784u * 1024);
}

TEST(ModelStats, KvRowBytesAreTheCacheFormats) {
  // A 16-token block's bytes / 16, rounded up (kv/kv_quant_formats.h).
  EXPECT_EQ(kv_row_bytes(32, KvType::Q8, true), 34u);   // 32 int8 + f16 scale
  EXPECT_EQ(kv_row_bytes(33, KvType::Q8, false), 35u);
  EXPECT_EQ(kv_row_bytes(8, KvType::Q4, true), 6u);     // 4 bytes of nibbles + (8 channels x 4 bytes) / 16
  EXPECT_EQ(kv_row_bytes(8, KvType::Q4, false), 12u);   // dims padded to 16: 8 bytes of nibbles + f16 scale and minimum
  EXPECT_EQ(kv_row_bytes(64, KvType::Q4, false), 36u);  // 32 bytes of nibbles + f16 scale and minimum
  EXPECT_EQ(kv_row_bytes(7, KvType::Q4, true), 6u);     // (7 x 4 + 16 x 4) / 16 = 5.75, rounded up
  EXPECT_EQ(kv_row_bytes(8, KvType::F16, true), 16u);
}

}  // namespace
}  // namespace pocketllm
