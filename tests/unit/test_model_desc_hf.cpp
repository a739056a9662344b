// ModelDesc from config.json: the 14 golden bundles (checked against what
// transformers itself computed, recorded in golden.json) and the real configs
// of the target models (values from the model cards / config files).
#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "model/model_desc_hf.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

using nlohmann::json;

ModelDesc describe_config(const std::string& file) {
  return describe_from_hf_config(load_test_json("configs/" + file), file);
}

// Expects describe_from_hf_config to throw an InputError whose message contains `needle`.
void expect_error(const json& config, const std::string& needle) {
  try {
    describe_from_hf_config(config, "cfg.json");
    ADD_FAILURE() << "no error, expected one mentioning " << needle;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).rfind("cfg.json: ", 0), 0u) << error.what();
  }
}

const std::map<std::string, std::string> kGoldenArchitectures = {
    {"llama3", "llama"},       {"mistral", "mistral"},       {"qwen2", "qwen2"},
    {"qwen3", "qwen3"},        {"qwen3moe", "qwen3moe"},     {"mixtral", "mixtral"},
    {"deepseek2", "deepseek2"}, {"deepseek3", "deepseek3"},  {"glm4moe", "glm4moe"},
    {"glm4moelite", "glm4moelite"}, {"gemma3", "gemma3"},   {"gemma2", "gemma2"},
    {"gptoss", "gptoss"},      {"phi3", "phi3"},
};

// Per-layer facts that transformers recorded while running each bundle.
TEST(ModelDescHf, GoldenBundlesMatchWhatTransformersComputed) {
  for (const auto& [bundle, canonical] : kGoldenArchitectures) {
    SCOPED_TRACE(bundle);
    const json golden = load_test_json("golden/" + bundle + "/golden.json");
    const ModelDesc d = describe_from_hf_config(load_test_json("golden/" + bundle + "/config.json"), bundle);
    EXPECT_EQ(d.architecture, canonical);
    EXPECT_EQ(d.source_architecture, golden["architecture"].get<std::string>());
    EXPECT_EQ(d.vocab_size, 320u);
    EXPECT_EQ(d.context_length, 4096u);

    const json& attention = golden["attention_modules"];
    ASSERT_EQ(attention.size(), d.n_layers);
    for (uint32_t layer = 0; layer < d.n_layers; ++layer) {
      const json& module = attention[layer];
      EXPECT_NEAR(d.softmax_scale(), module["scaling"].get<double>(), 1e-12) << "layer " << layer;
      const bool sliding = module.contains("sliding_window") && !module["sliding_window"].is_null();
      EXPECT_EQ(d.layer_is_sliding(layer), sliding) << "layer " << layer;
      if (sliding) {
        EXPECT_EQ(d.sliding_window, module["sliding_window"].get<uint32_t>());
      }
      if (module.contains("head_dim")) {
        EXPECT_EQ(d.head_dim_k, module["head_dim"].get<uint32_t>());
      }
      if (module.contains("qk_head_dim")) {
        EXPECT_EQ(d.head_dim_k, module["qk_head_dim"].get<uint32_t>());
      }
      if (module.contains("num_key_value_groups")) {
        EXPECT_EQ(d.n_heads / d.n_kv_heads, module["num_key_value_groups"].get<uint32_t>());
      }
    }
    // Rotated dims: transformers' inv_freq holds one frequency per rotated pair.
    const json& inv = golden["rotary"][0]["inv_freq_lengths"];
    const uint32_t pairs = inv.contains("inv_freq") ? inv["inv_freq"].get<uint32_t>()
                                                    : inv["full_attention_inv_freq"].get<uint32_t>();
    EXPECT_EQ(d.rope.n_dims, 2 * pairs);

    // MoE layers are those whose weights include experts.
    std::vector<bool> has_experts(d.n_layers, false);
    for (const json& tensor : golden["weights"]["tensors"]) {
      const std::string name = tensor[0].get<std::string>();
      if (name.rfind("model.layers.", 0) != 0 || name.find("experts") == std::string::npos) continue;
      has_experts[std::stoul(name.substr(13))] = true;
    }
    for (uint32_t layer = 0; layer < d.n_layers; ++layer) {
      EXPECT_EQ(d.layer_is_moe(layer), has_experts[layer]) << "layer " << layer;
    }
  }
}

TEST(ModelDescHf, GoldenQuirksFromTheReadme) {
  auto golden = [](const std::string& bundle) {
    return describe_from_hf_config(load_test_json("golden/" + bundle + "/config.json"), bundle);
  };
  const ModelDesc llama = golden("llama3");
  EXPECT_EQ(llama.rope.scaling, RopeScalingType::Llama3);
  EXPECT_DOUBLE_EQ(llama.rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(llama.rope.factor, 8.0);
  EXPECT_EQ(llama.rope.original_context, 32u);
  EXPECT_DOUBLE_EQ(llama.rope.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(llama.rope.high_freq_factor, 4.0);
  EXPECT_FALSE(llama.tied_embeddings);

  const ModelDesc qwen2 = golden("qwen2");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias);
  EXPECT_TRUE(qwen2.tied_embeddings);

  const ModelDesc qwen3 = golden("qwen3");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_EQ(qwen3.head_dim_k, 32u);  // not hidden / heads = 16

  const ModelDesc qwen3moe = golden("qwen3moe");
  EXPECT_EQ(qwen3moe.moe.n_experts, 8u);
  EXPECT_EQ(qwen3moe.moe.n_experts_used, 2u);
  EXPECT_EQ(qwen3moe.moe.expert_ffn, 32u);
  EXPECT_TRUE(qwen3moe.moe.norm_topk_prob);
  EXPECT_EQ(qwen3moe.n_ff, 0u);  // every layer is MoE

  const ModelDesc mixtral = golden("mixtral");
  EXPECT_EQ(mixtral.moe.n_experts, 8u);
  EXPECT_EQ(mixtral.moe.expert_ffn, 64u);
  EXPECT_EQ(mixtral.head_dim_k, 16u);  // head_dim null: hidden / heads
  EXPECT_EQ(mixtral.sliding_window, 0u);

  const ModelDesc ds2 = golden("deepseek2");
  EXPECT_EQ(ds2.mla.q_lora_rank, 0u);
  EXPECT_EQ(ds2.mla.kv_lora_rank, 32u);
  EXPECT_EQ(ds2.mla.qk_nope_head_dim, 16u);
  EXPECT_EQ(ds2.mla.qk_rope_head_dim, 8u);
  EXPECT_EQ(ds2.head_dim_v, 16u);
  EXPECT_EQ(ds2.rope.scaling, RopeScalingType::Yarn);
  EXPECT_DOUBLE_EQ(ds2.rope.factor, 4.0);
  EXPECT_DOUBLE_EQ(ds2.rope.mscale, 0.707);
  EXPECT_DOUBLE_EQ(ds2.rope.mscale_all_dim, 0.707);
  EXPECT_EQ(ds2.rope.layout, RopeLayout::Interleaved);
  EXPECT_EQ(ds2.moe.gating, ExpertGating::Softmax);
  EXPECT_FALSE(ds2.moe.score_bias);
  EXPECT_FALSE(ds2.moe.norm_topk_prob);
  EXPECT_EQ(ds2.moe.n_shared_experts, 1u);
  EXPECT_EQ(ds2.leading_dense_layers(), 1u);

  const ModelDesc ds3 = golden("deepseek3");
  EXPECT_EQ(ds3.mla.q_lora_rank, 24u);
  EXPECT_EQ(ds3.moe.gating, ExpertGating::Sigmoid);
  EXPECT_TRUE(ds3.moe.score_bias);
  EXPECT_EQ(ds3.moe.n_groups, 4u);
  EXPECT_EQ(ds3.moe.topk_groups, 2u);
  EXPECT_TRUE(ds3.moe.norm_topk_prob);
  EXPECT_DOUBLE_EQ(ds3.moe.routed_scaling, 2.5);
  EXPECT_EQ(ds3.n_nextn_layers, 1u);

  const ModelDesc glm = golden("glm4moe");
  EXPECT_EQ(glm.rope.n_dims, 16u);  // partial_rotary_factor 0.5 of head_dim 32
  EXPECT_TRUE(glm.qkv_bias);
  EXPECT_FALSE(glm.o_bias);
  EXPECT_TRUE(glm.qk_norm);
  EXPECT_EQ(glm.moe.gating, ExpertGating::Sigmoid);
  EXPECT_TRUE(glm.moe.score_bias);
  EXPECT_DOUBLE_EQ(glm.moe.routed_scaling, 2.5);

  const ModelDesc lite = golden("glm4moelite");
  EXPECT_EQ(lite.head_dim_v, 24u);  // wider than the no-rope part of K (16)
  EXPECT_EQ(lite.rope.layout, RopeLayout::Interleaved);
  EXPECT_DOUBLE_EQ(lite.moe.routed_scaling, 1.8);

  const ModelDesc gemma3 = golden("gemma3");
  EXPECT_DOUBLE_EQ(gemma3.rope.theta, 1e6);
  EXPECT_EQ(gemma3.rope.scaling, RopeScalingType::Linear);
  EXPECT_DOUBLE_EQ(gemma3.rope.factor, 8.0);
  EXPECT_DOUBLE_EQ(gemma3.rope.theta_sliding, 10000.0);
  EXPECT_EQ(gemma3.activation, Activation::GeGLU);
  EXPECT_DOUBLE_EQ(gemma3.embedding_scale, 8.0);
  EXPECT_TRUE(gemma3.post_norms);
  EXPECT_TRUE(gemma3.tied_embeddings);

  const ModelDesc gemma2 = golden("gemma2");
  EXPECT_DOUBLE_EQ(gemma2.attn_softcap, 1.0);
  EXPECT_DOUBLE_EQ(gemma2.final_softcap, 3.0);

  const ModelDesc oss = golden("gptoss");
  EXPECT_TRUE(oss.attention_sinks);
  EXPECT_TRUE(oss.qkv_bias && oss.o_bias);
  EXPECT_EQ(oss.activation, Activation::SwiGLUOaiClamped);
  EXPECT_DOUBLE_EQ(oss.swiglu_limit, 7.0);
  EXPECT_EQ(oss.rope.scaling, RopeScalingType::Yarn);
  EXPECT_FALSE(oss.rope.truncate);
  EXPECT_DOUBLE_EQ(oss.rope.theta, 150000.0);
  EXPECT_TRUE(oss.moe.router_bias && oss.moe.expert_bias);

  const ModelDesc phi3 = golden("phi3");
  EXPECT_TRUE(phi3.fused_qkv);
  EXPECT_EQ(phi3.rope.n_dims, 12u);
}

// Both RoPE spellings describe the same model.
TEST(ModelDescHf, LegacyRopeKeysGiveTheSameDescription) {
  for (const auto& [bundle, canonical] : kGoldenArchitectures) {
    SCOPED_TRACE(bundle);
    json v5 = load_test_json("golden/" + bundle + "/config.json");
    json legacy = v5;
    legacy.erase("rope_parameters");
    const ModelDesc a = describe_from_hf_config(v5, bundle);
    const ModelDesc b = describe_from_hf_config(legacy, bundle);
    EXPECT_DOUBLE_EQ(a.rope.theta, b.rope.theta);
    EXPECT_EQ(a.rope.scaling, b.rope.scaling);
    EXPECT_DOUBLE_EQ(a.rope.factor, b.rope.factor);
    EXPECT_EQ(a.rope.n_dims, b.rope.n_dims);
    EXPECT_DOUBLE_EQ(a.rope.theta_sliding, b.rope.theta_sliding);
    EXPECT_DOUBLE_EQ(a.softmax_scale(), b.softmax_scale());
  }
}

TEST(ModelDescHf, RealConfigs) {
  const ModelDesc llama = describe_config("Llama-3.1-8B.json");
  EXPECT_EQ(llama.architecture, "llama");
  EXPECT_EQ(llama.n_layers, 32u);
  EXPECT_EQ(llama.n_kv_heads, 8u);
  EXPECT_EQ(llama.head_dim_k, 128u);
  EXPECT_EQ(llama.rope.scaling, RopeScalingType::Llama3);
  EXPECT_EQ(llama.rope.original_context, 8192u);
  EXPECT_EQ(llama.context_length, 131072u);
  EXPECT_TRUE(describe_config("Llama-3.2-1B.json").tied_embeddings);

  const ModelDesc mistral = describe_config("Mistral-7B-v0.3.json");
  EXPECT_EQ(mistral.sliding_window, 0u);  // null in the file beats the class default 4096
  EXPECT_EQ(mistral.vocab_size, 32768u);

  const ModelDesc qwen = describe_config("Qwen3-30B-A3B.json");
  EXPECT_EQ(qwen.moe.n_experts, 128u);  // spelled num_experts here
  EXPECT_EQ(qwen.moe.n_experts_used, 8u);
  EXPECT_EQ(qwen.moe.expert_ffn, 768u);
  EXPECT_EQ(qwen.leading_dense_layers(), 0u);
  EXPECT_TRUE(describe_config("Qwen3-4B.json").tied_embeddings);

  const ModelDesc glm = describe_config("GLM-4.7-Flash.json");
  EXPECT_EQ(glm.architecture, "glm4moelite");
  EXPECT_EQ(glm.n_layers, 47u);
  EXPECT_EQ(glm.n_nextn_layers, 1u);
  EXPECT_EQ(glm.mla.q_lora_rank, 768u);
  EXPECT_EQ(glm.mla.kv_lora_rank, 512u);
  EXPECT_EQ(glm.head_dim_k, 256u);
  EXPECT_EQ(glm.head_dim_v, 256u);
  EXPECT_EQ(glm.rope.n_dims, 64u);
  EXPECT_EQ(glm.rope.layout, RopeLayout::Interleaved);  // Glm4MoeLiteConfig rope_interleave default
  EXPECT_EQ(glm.leading_dense_layers(), 1u);
  EXPECT_EQ(glm.moe.n_experts, 64u);
  EXPECT_EQ(glm.moe.n_experts_used, 4u);
  EXPECT_EQ(glm.moe.gating, ExpertGating::Sigmoid);
  EXPECT_TRUE(glm.moe.score_bias);

  const ModelDesc oss = describe_config("gpt-oss-20b.json");
  EXPECT_EQ(oss.n_sliding_layers(), 12u);
  EXPECT_EQ(oss.sliding_window, 128u);
  EXPECT_TRUE(oss.layer_is_sliding(0));
  EXPECT_FALSE(oss.layer_is_sliding(1));
  EXPECT_EQ(oss.moe.n_experts, 32u);
  EXPECT_EQ(oss.moe.n_experts_used, 4u);
  EXPECT_DOUBLE_EQ(oss.rope.factor, 32.0);
  EXPECT_EQ(oss.rope.original_context, 4096u);
  EXPECT_EQ(describe_config("gpt-oss-120b.json").moe.n_experts, 128u);

  const ModelDesc ds = describe_config("DeepSeek-V2-Lite.json");
  EXPECT_EQ(ds.mla.q_lora_rank, 0u);
  EXPECT_EQ(ds.moe.n_experts_used, 6u);
  EXPECT_EQ(ds.moe.shared_expert_ffn, 2816u);  // 2 shared experts of 1408, one MLP
  EXPECT_DOUBLE_EQ(ds.rope.factor, 40.0);
  // softmax scale: 192^-0.5 * (0.1 * 0.707 * ln 40 + 1)^2
  const double m = 0.1 * 0.707 * std::log(40.0) + 1.0;
  EXPECT_NEAR(ds.softmax_scale(), m * m / std::sqrt(192.0), 1e-15);
}

// The published Gemma 3 config leaves most keys to Gemma3TextConfig's
// defaults; the resolved file spells them out. Both must agree.
TEST(ModelDescHf, Gemma3TextConfigDefaults) {
  const ModelDesc sparse = describe_config("gemma-3-4b-it.json");
  const ModelDesc resolved = describe_config("gemma-3-4b-it.text_config.resolved.json");
  for (const ModelDesc* d : {&sparse, &resolved}) {
    EXPECT_EQ(d->architecture, "gemma3");
    EXPECT_EQ(d->n_layers, 34u);
    EXPECT_EQ(d->n_heads, 8u);
    EXPECT_EQ(d->n_kv_heads, 4u);
    EXPECT_EQ(d->head_dim_k, 256u);
    EXPECT_EQ(d->vocab_size, 262208u);
    EXPECT_EQ(d->context_length, 131072u);
    EXPECT_EQ(d->sliding_window, 1024u);
    EXPECT_EQ(d->n_sliding_layers(), 29u);
    EXPECT_FALSE(d->layer_is_sliding(5));
    EXPECT_DOUBLE_EQ(d->rope.theta, 1e6);
    EXPECT_DOUBLE_EQ(d->rope.theta_sliding, 10000.0);
    EXPECT_EQ(d->rope.scaling, RopeScalingType::Linear);
    EXPECT_DOUBLE_EQ(d->softmax_scale(), 1.0 / 16.0);  // query_pre_attn_scalar 256
    EXPECT_DOUBLE_EQ(d->norm_eps, 1e-6);
    EXPECT_TRUE(d->tied_embeddings);
  }
  EXPECT_EQ(sparse.source_architecture, "Gemma3ForConditionalGeneration");
}

TEST(ModelDescHf, Gemma4IsAnUnsupportedArchitecture) {
  try {
    describe_config("gemma-4-E4B.text_config.json");
    ADD_FAILURE() << "Gemma 4 described";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("unsupported architecture 'gemma4_text'"),
              std::string::npos) << error.what();
  }
}

TEST(ModelDescHf, BadValuesNameTheKey) {
  const json base = load_test_json("golden/llama3/config.json");
  auto with = [&](const std::string& key, const json& value) {
    json config = base;
    config[key] = value;
    return config;
  };
  expect_error(with("model_type", "mamba"), "unsupported architecture 'mamba'");
  expect_error(with("num_hidden_layers", 0), "key 'num_hidden_layers': must be positive");
  expect_error(with("num_hidden_layers", -3), "key 'num_hidden_layers': must not be negative");
  expect_error(with("hidden_size", "128"), "key 'hidden_size': expected a non-negative integer");
  expect_error(with("num_hidden_layers", 2.5), "key 'num_hidden_layers'");
  expect_error(with("num_key_value_heads", 3), "key 'num_key_value_heads': 3 does not divide");
  expect_error(with("rms_norm_eps", "small"), "key 'rms_norm_eps': expected a number");
  expect_error(with("vocab_size", 5000000000ULL), "key 'vocab_size'");
  json bad_rope = base;
  bad_rope["rope_parameters"]["rope_type"] = "longrope";
  expect_error(bad_rope, "key 'rope_parameters.rope_type': unsupported RoPE type 'longrope'");
  json no_type = base;
  no_type.erase("model_type");
  no_type.erase("architectures");
  expect_error(no_type, "key 'model_type': missing");
  json only_class = base;
  only_class.erase("model_type");
  EXPECT_EQ(describe_from_hf_config(only_class, "cfg.json").architecture, "llama");
  only_class["architectures"] = json::array({"FooForCausalLM"});
  expect_error(only_class, "unsupported architecture 'FooForCausalLM'");
  expect_error(json::array(), "expected a JSON object");

  const json gemma = load_test_json("golden/gemma2/config.json");
  json short_types = gemma;
  short_types["layer_types"] = json::array({"sliding_attention"});
  expect_error(short_types, "key 'layer_types': has 1 entries for 4 layers");
  json no_window = gemma;
  no_window["sliding_window"] = nullptr;
  expect_error(no_window, "key 'sliding_window'");

  const json moe = load_test_json("golden/qwen3moe/config.json");
  json too_many = moe;
  too_many["num_experts_per_tok"] = 9;
  expect_error(too_many, "key 'num_experts_per_tok': 9 exceeds the 8 experts");
  json bad_step = moe;
  bad_step["mlp_only_layers"] = json::array({7});
  expect_error(bad_step, "key 'mlp_only_layers': layer 7 out of range");

  json nested = load_test_json("configs/gemma-3-4b-it.json");
  nested["text_config"]["num_hidden_layers"] = 0;
  expect_error(nested, "key 'text_config.num_hidden_layers'");
}

// Qwen's dense-only layers and sparse step (not used by the golden bundle).
TEST(ModelDescHf, QwenMoeLayerSelection) {
  json config = load_test_json("golden/qwen3moe/config.json");
  config["num_hidden_layers"] = 4;
  config["decoder_sparse_step"] = 2;
  config["mlp_only_layers"] = json::array({3});
  const ModelDesc d = describe_from_hf_config(config, "cfg.json");
  // transformers: MoE when layer not in mlp_only_layers and (layer + 1) % step == 0
  EXPECT_FALSE(d.layer_is_moe(0));
  EXPECT_TRUE(d.layer_is_moe(1));
  EXPECT_FALSE(d.layer_is_moe(2));
  EXPECT_FALSE(d.layer_is_moe(3));
  EXPECT_EQ(d.n_ff, 128u);
}

}  // namespace
}  // namespace pocketllm
