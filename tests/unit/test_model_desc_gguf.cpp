// ModelDesc from GGUF metadata: the real llama files in the repo (their
// tensors must be exactly the ones the description implies), and GGUF files
// written here with llama.cpp's keys for each other architecture, which must
// describe the same model as the golden bundle's config.json.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/model_desc_gguf.h"
#include "model/model_desc_hf.h"
#include "model/model_stats.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

using nlohmann::json;
using VT = GgufValueType;

// The file's tensors, by name and shape, are exactly the expected ones.
void expect_tensors_match(const GgufFile& file, const ModelDesc& desc) {
  const std::vector<TensorSpec> expected = expected_tensors(desc);
  EXPECT_EQ(expected.size(), file.tensors().size());
  uint64_t file_params = 0;
  for (const GgufTensorInfo& t : file.tensors()) file_params += t.n_elements;
  EXPECT_EQ(compute_stats(desc).total_params, file_params);
  for (const TensorSpec& spec : expected) {
    const GgufTensorInfo* t = file.find_tensor(spec.name);
    ASSERT_NE(t, nullptr) << spec.name;
    EXPECT_EQ(std::vector<uint64_t>(t->ne.rbegin(), t->ne.rend()), spec.shape) << spec.name;
  }
}

TEST(ModelDescGguf, Stories260K) {
  const GgufFile file = GgufFile::open(POCKETLLM_TEST_DATA_DIR "/../../models/stories260K.gguf");
  const ModelDesc d = describe_from_gguf(file);
  // models/SOURCES.md: llama, 5 blocks, width 64, FFN 172, 8 heads, 4 KV
  // heads (head size 8), 512 tokens, context_length 2048.
  EXPECT_EQ(d.architecture, "llama");
  EXPECT_EQ(d.source_architecture, "llama");
  EXPECT_EQ(d.n_layers, 5u);
  EXPECT_EQ(d.n_embd, 64u);
  EXPECT_EQ(d.n_ff, 172u);
  EXPECT_EQ(d.n_heads, 8u);
  EXPECT_EQ(d.n_kv_heads, 4u);
  EXPECT_EQ(d.head_dim_k, 8u);
  EXPECT_EQ(d.vocab_size, 512u);
  EXPECT_EQ(d.context_length, 2048u);
  EXPECT_EQ(d.rope.n_dims, 8u);
  EXPECT_EQ(d.rope.layout, RopeLayout::Interleaved);  // llama.cpp permutes llama q/k
  EXPECT_NEAR(d.norm_eps, 1e-5, 1e-12);
  EXPECT_FALSE(d.tied_embeddings);  // output.weight is a stored copy
  EXPECT_FALSE(d.is_moe());
  expect_tensors_match(file, d);
  // By hand: embedding and output 2 * 512 * 64; per layer q and o 64 * 64,
  // k and v 32 * 64, FFN 3 * 64 * 172, two norms of 64; final norm 64.
  const uint64_t per_layer = 64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 172 + 2 * 64;
  EXPECT_EQ(compute_stats(d).total_params, 2u * 512 * 64 + 5 * per_layer + 64);
  // KV f16: 5 layers * 2 * 4 heads * 8 dims * 2 bytes.
  EXPECT_EQ(compute_stats(d).kv.full_bytes_per_token(KvType::F16), 640u);
}

TEST(ModelDescGguf, LlamaTinyRandom) {
  const GgufFile file = GgufFile::open(POCKETLLM_TEST_DATA_DIR "/gguf/llama-2-tiny-random.gguf");
  const ModelDesc d = describe_from_gguf(file);
  // models/SOURCES.md: 1 block, width 8, FFN 32, 2 heads, 2 KV heads, 32,000 tokens.
  EXPECT_EQ(d.n_layers, 1u);
  EXPECT_EQ(d.n_embd, 8u);
  EXPECT_EQ(d.n_ff, 32u);
  EXPECT_EQ(d.n_heads, 2u);
  EXPECT_EQ(d.n_kv_heads, 2u);
  EXPECT_EQ(d.head_dim_k, 4u);
  EXPECT_EQ(d.vocab_size, 32000u);  // from tokenizer.ggml.tokens (no llama.vocab_size)
  EXPECT_EQ(d.context_length, 4096u);
  EXPECT_EQ(d.name, "LLaMA v2");
  expect_tensors_match(file, d);
}

// Builds GGUF files in a per-test folder, removed afterwards.
class GgufBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("model_desc_gguf_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `w` plus F32 zero tensors named and shaped as `tensors`, opens it.
  GgufFile write(GgufWriter& w, const std::vector<TensorSpec>& tensors, const std::string& name) {
    uint64_t largest = 0;
    for (const TensorSpec& t : tensors) largest = std::max(largest, t.n_elements());
    zeros_.assign(largest * 4, 0);
    for (const TensorSpec& t : tensors) {
      w.add_tensor(t.name, std::vector<uint64_t>(t.shape.rbegin(), t.shape.rend()), GgmlType::F32,
                   std::span<const uint8_t>(zeros_.data(), t.n_elements() * 4));
    }
    const std::string path = (dir_ / name).string();
    w.write(path);
    return GgufFile::open(path);
  }

  std::filesystem::path dir_;
  std::vector<uint8_t> zeros_;
};

void add_u32(GgufWriter& w, const std::string& key, uint32_t v) {
  w.add(key, GgufValue::make_uint(VT::UINT32, v));
}
void add_f32(GgufWriter& w, const std::string& key, double v) {
  w.add(key, GgufValue::make_float(VT::FLOAT32, v));
}

// The keys llama.cpp's converter (convert_hf_to_gguf.py) writes for the
// common hyperparameters of `d`, under GGUF architecture name `arch`.
void add_common(GgufWriter& w, const std::string& arch, const ModelDesc& d, uint32_t extra_blocks) {
  w.add("general.architecture", GgufValue::make_string(arch));
  w.add("general.name", GgufValue::make_string("golden " + d.architecture));
  add_u32(w, arch + ".block_count", d.n_layers + extra_blocks);
  add_u32(w, arch + ".context_length", d.context_length);
  add_u32(w, arch + ".embedding_length", d.n_embd);
  add_u32(w, arch + ".feed_forward_length", d.n_ff);
  add_u32(w, arch + ".attention.head_count", d.n_heads);
  add_u32(w, arch + ".attention.head_count_kv", d.n_kv_heads);
  add_f32(w, arch + ".rope.freq_base", d.rope.theta);
  add_f32(w, arch + ".attention.layer_norm_rms_epsilon", d.norm_eps);
  add_u32(w, arch + ".rope.dimension_count", d.rope.n_dims);
  add_u32(w, arch + ".vocab_size", d.vocab_size);
}

void add_moe(GgufWriter& w, const std::string& arch, const ModelDesc& d) {
  add_u32(w, arch + ".expert_count", d.moe.n_experts);
  add_u32(w, arch + ".expert_used_count", d.moe.n_experts_used);
  add_u32(w, arch + ".expert_feed_forward_length", d.moe.expert_ffn);
}

void add_deepseek_moe(GgufWriter& w, const std::string& arch, const ModelDesc& d) {
  add_moe(w, arch, d);
  add_u32(w, arch + ".leading_dense_block_count", d.leading_dense_layers());
  add_u32(w, arch + ".expert_shared_count", d.moe.n_shared_experts);
  add_f32(w, arch + ".expert_weights_scale", d.moe.routed_scaling);
  w.add(arch + ".expert_weights_norm", GgufValue::make_bool(d.moe.norm_topk_prob));
  add_u32(w, arch + ".expert_gating_func", d.moe.gating == ExpertGating::Sigmoid ? 2 : 1);
  add_u32(w, arch + ".expert_group_count", d.moe.n_groups);
  add_u32(w, arch + ".expert_group_used_count", d.moe.topk_groups);
}

void add_sliding(GgufWriter& w, const std::string& arch, const ModelDesc& d) {
  add_u32(w, arch + ".attention.sliding_window", d.sliding_window);
}

void add_yarn(GgufWriter& w, const std::string& arch, const ModelDesc& d) {
  w.add(arch + ".rope.scaling.type", GgufValue::make_string("yarn"));
  add_f32(w, arch + ".rope.scaling.factor", d.rope.factor);
  add_u32(w, arch + ".rope.scaling.original_context_length", d.rope.original_context);
}

void expect_same_model(const ModelDesc& hf, const ModelDesc& gguf) {
  EXPECT_EQ(gguf.n_layers, hf.n_layers);
  EXPECT_EQ(gguf.n_nextn_layers, hf.n_nextn_layers);
  EXPECT_EQ(gguf.n_embd, hf.n_embd);
  EXPECT_EQ(gguf.n_heads, hf.n_heads);
  EXPECT_EQ(gguf.n_kv_heads, hf.n_kv_heads);
  EXPECT_EQ(gguf.head_dim_k, hf.head_dim_k);
  EXPECT_EQ(gguf.head_dim_v, hf.head_dim_v);
  EXPECT_EQ(gguf.n_ff, hf.n_ff);
  EXPECT_EQ(gguf.vocab_size, hf.vocab_size);
  EXPECT_EQ(gguf.context_length, hf.context_length);
  EXPECT_NEAR(gguf.norm_eps, hf.norm_eps, hf.norm_eps * 1e-6);  // stored as f32
  EXPECT_EQ(gguf.activation, hf.activation);
  EXPECT_EQ(gguf.tied_embeddings, hf.tied_embeddings);
  EXPECT_EQ(gguf.qkv_bias, hf.qkv_bias);
  EXPECT_EQ(gguf.o_bias, hf.o_bias);
  EXPECT_EQ(gguf.qk_norm, hf.qk_norm);
  EXPECT_EQ(gguf.fused_qkv, hf.fused_qkv);
  EXPECT_EQ(gguf.post_norms, hf.post_norms);
  EXPECT_EQ(gguf.attention_sinks, hf.attention_sinks);
  EXPECT_NEAR(gguf.rope.theta, hf.rope.theta, hf.rope.theta * 1e-7);
  EXPECT_EQ(gguf.rope.n_dims, hf.rope.n_dims);
  EXPECT_EQ(gguf.rope.scaling, hf.rope.scaling);
  EXPECT_NEAR(gguf.rope.factor, hf.rope.factor, 1e-6);
  EXPECT_EQ(gguf.rope.original_context, hf.rope.original_context);
  EXPECT_DOUBLE_EQ(gguf.rope.theta_sliding, hf.rope.theta_sliding);
  EXPECT_EQ(gguf.mla.q_lora_rank, hf.mla.q_lora_rank);
  EXPECT_EQ(gguf.mla.kv_lora_rank, hf.mla.kv_lora_rank);
  EXPECT_EQ(gguf.mla.qk_nope_head_dim, hf.mla.qk_nope_head_dim);
  EXPECT_EQ(gguf.mla.qk_rope_head_dim, hf.mla.qk_rope_head_dim);
  EXPECT_EQ(gguf.mla.v_head_dim, hf.mla.v_head_dim);
  EXPECT_EQ(gguf.moe.n_experts, hf.moe.n_experts);
  EXPECT_EQ(gguf.moe.n_experts_used, hf.moe.n_experts_used);
  EXPECT_EQ(gguf.moe.n_shared_experts, hf.moe.n_shared_experts);
  EXPECT_EQ(gguf.moe.expert_ffn, hf.moe.expert_ffn);
  EXPECT_EQ(gguf.moe.shared_expert_ffn, hf.moe.shared_expert_ffn);
  EXPECT_EQ(gguf.moe.gating, hf.moe.gating);
  EXPECT_EQ(gguf.moe.norm_topk_prob, hf.moe.norm_topk_prob);
  EXPECT_EQ(gguf.moe.score_bias, hf.moe.score_bias);
  EXPECT_NEAR(gguf.moe.routed_scaling, hf.moe.routed_scaling, 1e-6);
  EXPECT_EQ(gguf.moe.n_groups, hf.moe.n_groups);
  EXPECT_EQ(gguf.moe.topk_groups, hf.moe.topk_groups);
  EXPECT_EQ(gguf.moe.router_bias, hf.moe.router_bias);
  EXPECT_EQ(gguf.moe.expert_bias, hf.moe.expert_bias);
  EXPECT_EQ(gguf.layer_moe, hf.layer_moe);
  EXPECT_EQ(gguf.layer_sliding, hf.layer_sliding);
  EXPECT_EQ(gguf.sliding_window, hf.sliding_window);
  EXPECT_NEAR(gguf.attn_softcap, hf.attn_softcap, 1e-6);
  EXPECT_NEAR(gguf.final_softcap, hf.final_softcap, 1e-6);
  EXPECT_DOUBLE_EQ(gguf.embedding_scale, hf.embedding_scale);
  EXPECT_EQ(compute_stats(gguf).total_params, compute_stats(hf).total_params);
}

ModelDesc golden_hf(const std::string& bundle) {
  return describe_from_hf_config(load_test_json("golden/" + bundle + "/config.json"), bundle);
}

TEST_F(GgufBuilderTest, GptOss) {
  const ModelDesc hf = golden_hf("gptoss");
  GgufWriter w;
  add_common(w, "gpt-oss", hf, 0);
  add_u32(w, "gpt-oss.attention.key_length", hf.head_dim_k);
  add_u32(w, "gpt-oss.attention.value_length", hf.head_dim_v);
  add_moe(w, "gpt-oss", hf);
  add_sliding(w, "gpt-oss", hf);
  add_yarn(w, "gpt-oss", hf);
  const GgufFile file = write(w, expected_tensors(hf), "gptoss.gguf");
  const ModelDesc d = describe_from_gguf(file);
  EXPECT_EQ(d.architecture, "gptoss");
  expect_same_model(hf, d);
  EXPECT_FALSE(d.rope.truncate);
  EXPECT_DOUBLE_EQ(d.swiglu_limit, 7.0);
  EXPECT_DOUBLE_EQ(d.softmax_scale(), hf.softmax_scale());
}

TEST_F(GgufBuilderTest, DeepSeekV3AsDeepseek2WithOldMlaKeys) {
  const ModelDesc hf = golden_hf("deepseek3");
  GgufWriter w;
  add_common(w, "deepseek2", hf, hf.n_nextn_layers);
  add_u32(w, "deepseek2.nextn_predict_layers", hf.n_nextn_layers);
  add_u32(w, "deepseek2.attention.key_length", hf.head_dim_k);  // nope + rope
  add_u32(w, "deepseek2.attention.value_length", hf.head_dim_v);
  add_u32(w, "deepseek2.attention.q_lora_rank", hf.mla.q_lora_rank);
  add_u32(w, "deepseek2.attention.kv_lora_rank", hf.mla.kv_lora_rank);
  add_deepseek_moe(w, "deepseek2", hf);
  add_yarn(w, "deepseek2", hf);
  add_f32(w, "deepseek2.rope.scaling.yarn_log_multiplier", 0.1 * hf.rope.mscale_all_dim);
  const GgufFile file = write(w, expected_tensors(hf), "deepseek3.gguf");
  const ModelDesc d = describe_from_gguf(file);
  EXPECT_EQ(d.architecture, "deepseek2");
  expect_same_model(hf, d);
  EXPECT_EQ(d.rope.layout, RopeLayout::Interleaved);
  // golden.json: 0.264642 = 24^-0.5 * (0.1 * 1.0 * ln 4 + 1)^2
  EXPECT_NEAR(d.softmax_scale(), 0.2646422579642267, 1e-7);
}

TEST_F(GgufBuilderTest, Glm47FlashAsDeepseek2WithMlaKeys) {
  const ModelDesc hf = golden_hf("glm4moelite");
  GgufWriter w;
  add_common(w, "deepseek2", hf, 0);
  // Newer converters: key/value_length describe the absorbed single-head view.
  add_u32(w, "deepseek2.attention.key_length", hf.mla.kv_lora_rank + hf.mla.qk_rope_head_dim);
  add_u32(w, "deepseek2.attention.value_length", hf.mla.kv_lora_rank);
  add_u32(w, "deepseek2.attention.key_length_mla", hf.head_dim_k);
  add_u32(w, "deepseek2.attention.value_length_mla", hf.head_dim_v);
  add_u32(w, "deepseek2.attention.q_lora_rank", hf.mla.q_lora_rank);
  add_u32(w, "deepseek2.attention.kv_lora_rank", hf.mla.kv_lora_rank);
  add_deepseek_moe(w, "deepseek2", hf);
  const GgufFile file = write(w, expected_tensors(hf), "glm4moelite.gguf");
  const ModelDesc d = describe_from_gguf(file);
  expect_same_model(hf, d);
  EXPECT_DOUBLE_EQ(d.softmax_scale(), hf.softmax_scale());
}

TEST_F(GgufBuilderTest, Glm45CountsItsMtpLayerInBlockCount) {
  const ModelDesc hf = golden_hf("glm4moe");
  ASSERT_EQ(hf.n_nextn_layers, 1u);
  GgufWriter w;
  add_common(w, "glm4moe", hf, hf.n_nextn_layers);
  add_u32(w, "glm4moe.nextn_predict_layers", hf.n_nextn_layers);
  add_u32(w, "glm4moe.attention.key_length", hf.head_dim_k);
  add_u32(w, "glm4moe.attention.value_length", hf.head_dim_v);
  add_deepseek_moe(w, "glm4moe", hf);
  const GgufFile file = write(w, expected_tensors(hf), "glm4moe.gguf");
  expect_same_model(hf, describe_from_gguf(file));
}

TEST_F(GgufBuilderTest, Qwen3Moe) {
  const ModelDesc hf = golden_hf("qwen3moe");
  GgufWriter w;
  add_common(w, "qwen3moe", hf, 0);
  add_u32(w, "qwen3moe.attention.key_length", hf.head_dim_k);
  add_u32(w, "qwen3moe.attention.value_length", hf.head_dim_v);
  add_moe(w, "qwen3moe", hf);
  const GgufFile file = write(w, expected_tensors(hf), "qwen3moe.gguf");
  const ModelDesc d = describe_from_gguf(file);
  EXPECT_EQ(d.architecture, "qwen3moe");
  expect_same_model(hf, d);
}

TEST_F(GgufBuilderTest, Gemma2) {
  const ModelDesc hf = golden_hf("gemma2");
  GgufWriter w;
  add_common(w, "gemma2", hf, 0);
  add_u32(w, "gemma2.attention.key_length", hf.head_dim_k);
  add_u32(w, "gemma2.attention.value_length", hf.head_dim_v);
  add_sliding(w, "gemma2", hf);
  add_f32(w, "gemma2.attn_logit_softcapping", hf.attn_softcap);
  add_f32(w, "gemma2.final_logit_softcapping", hf.final_softcap);
  const GgufFile file = write(w, expected_tensors(hf), "gemma2.gguf");
  expect_same_model(hf, describe_from_gguf(file));
}

TEST_F(GgufBuilderTest, Gemma3WithPerLayerPattern) {
  const ModelDesc hf = golden_hf("gemma3");
  GgufWriter w;
  add_common(w, "gemma3", hf, 0);
  add_u32(w, "gemma3.attention.key_length", hf.head_dim_k);
  add_u32(w, "gemma3.attention.value_length", hf.head_dim_v);
  add_sliding(w, "gemma3", hf);
  std::vector<GgufValue> pattern;
  for (bool sliding : hf.layer_sliding) pattern.push_back(GgufValue::make_bool(sliding));
  w.add("gemma3.attention.sliding_window_pattern", GgufValue::make_array(VT::BOOL, pattern));
  w.add("gemma3.rope.scaling.type", GgufValue::make_string("linear"));
  add_f32(w, "gemma3.rope.scaling.factor", hf.rope.factor);
  const GgufFile file = write(w, expected_tensors(hf), "gemma3.gguf");
  const ModelDesc d = describe_from_gguf(file);
  expect_same_model(hf, d);
  // GGUF has no query_pre_attn_scalar: llama.cpp uses 1/sqrt(head_dim).
  EXPECT_DOUBLE_EQ(d.softmax_scale(), 0.25);
}

TEST_F(GgufBuilderTest, Gemma3DefaultPatternIsFiveLocalOneGlobal) {
  const ModelDesc hf = describe_from_hf_config(load_test_json("configs/gemma-3-4b-it.json"), "gemma3-4b");
  GgufWriter w;
  add_common(w, "gemma3", hf, 0);
  add_u32(w, "gemma3.attention.key_length", hf.head_dim_k);
  add_u32(w, "gemma3.attention.value_length", hf.head_dim_v);
  add_sliding(w, "gemma3", hf);
  const GgufFile file = write(w, {}, "gemma3-4b.gguf");
  const ModelDesc d = describe_from_gguf(file);
  EXPECT_EQ(d.layer_sliding, hf.layer_sliding);
  EXPECT_EQ(d.n_sliding_layers(), 29u);
  EXPECT_TRUE(d.tied_embeddings);  // no output.weight
}

TEST_F(GgufBuilderTest, Phi3FusedTensors) {
  const ModelDesc hf = golden_hf("phi3");
  GgufWriter w;
  add_common(w, "phi3", hf, 0);
  const GgufFile file = write(w, expected_tensors(hf), "phi3.gguf");
  expect_same_model(hf, describe_from_gguf(file));
}

TEST_F(GgufBuilderTest, BadMetadataNamesTheKey) {
  auto expect_error = [&](GgufWriter& w, const std::string& name, const std::string& needle) {
    const GgufFile file = write(w, {}, name);
    try {
      describe_from_gguf(file);
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  };
  const ModelDesc hf = golden_hf("llama3");
  {
    GgufWriter w;
    w.add("general.architecture", GgufValue::make_string("mamba"));
    expect_error(w, "mamba.gguf", "unsupported architecture 'mamba'");
  }
  {
    GgufWriter w;
    add_u32(w, "llama.block_count", 2);
    expect_error(w, "noarch.gguf", "key 'general.architecture': missing");
  }
  {
    ModelDesc bad = hf;
    bad.n_layers = 0;
    GgufWriter w;
    add_common(w, "llama", bad, 0);
    expect_error(w, "nolayers.gguf", "key 'llama.block_count': must be positive");
  }
  {
    ModelDesc bad = hf;
    bad.n_kv_heads = 3;
    GgufWriter w;
    add_common(w, "llama", bad, 0);
    expect_error(w, "kvheads.gguf", "key 'llama.attention.head_count_kv': 3 does not divide");
  }
  {
    GgufWriter w;
    add_common(w, "llama", hf, 0);
    w.add("llama.rope.scaling.type", GgufValue::make_string("longrope"));
    expect_error(w, "rope.gguf", "key 'llama.rope.scaling.type': unsupported RoPE scaling 'longrope'");
  }
  {
    GgufWriter w;
    w.add("general.architecture", GgufValue::make_string("llama"));
    w.add("llama.block_count", GgufValue::make_string("three"));
    expect_error(w, "string.gguf", "llama.block_count");
  }
  {
    GgufWriter w;
    w.add("general.architecture", GgufValue::make_string("llama"));
    add_u32(w, "llama.block_count", 2);
    add_u32(w, "llama.embedding_length", 64);
    add_u32(w, "llama.context_length", 64);
    add_u32(w, "llama.attention.head_count", 4);
    expect_error(w, "novocab.gguf", "key 'llama.vocab_size': missing");
  }
}

}  // namespace
}  // namespace pocketllm
