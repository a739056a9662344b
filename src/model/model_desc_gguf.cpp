#include "model/model_desc_gguf.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "model/architectures.h"
#include "util/error.h"

namespace pocketllm {
namespace {

// Checked access to "{arch}.*" keys; errors name the full key.
class ArchKeys {
 public:
  ArchKeys(const GgufFile& file, std::string_view arch) : file_(file), prefix_(std::string(arch) + ".") {}

  std::string key(std::string_view suffix) const { return prefix_ + std::string(suffix); }

  [[noreturn]] void fail(std::string_view full_key, std::string_view problem) const {
    throw InputError(fmt::format("{}: key '{}': {}", file_.name(), full_key, problem));
  }

  // A count that llama.cpp may also store per layer (an array): the arrays
  // must be uniform here, which every supported architecture's are.
  std::optional<uint32_t> opt_uint(std::string_view suffix) const {
    const std::string k = key(suffix);
    const GgufValue* value = file_.find(k);
    if (value == nullptr) return std::nullopt;
    uint64_t v = 0;
    if (value->type() == GgufValueType::ARRAY) {
      std::vector<int64_t> items = file_.get_int_array(k).value_or(std::vector<int64_t>{});
      if (items.empty()) fail(k, "empty per-layer array");
      for (int64_t item : items) {
        if (item != items[0]) fail(k, "per-layer values that differ are not supported");
      }
      if (items[0] < 0) fail(k, fmt::format("must not be negative, got {}", items[0]));
      v = static_cast<uint64_t>(items[0]);
    } else {
      std::optional<uint64_t> read = file_.get_uint(k);
      if (!read) fail(k, "expected an unsigned integer");
      v = *read;
    }
    if (v > std::numeric_limits<uint32_t>::max()) fail(k, fmt::format("{} is too large", v));
    return static_cast<uint32_t>(v);
  }
  uint32_t positive(std::string_view suffix) const {
    std::optional<uint32_t> v = opt_uint(suffix);
    if (!v) fail(key(suffix), "missing");
    if (*v == 0) fail(key(suffix), "must be positive, got 0");
    return *v;
  }
  uint32_t uint_or(std::string_view suffix, uint32_t fallback) const {
    return opt_uint(suffix).value_or(fallback);
  }
  std::optional<double> opt_float(std::string_view suffix) const {
    const std::string k = key(suffix);
    std::optional<double> v = file_.get_float(k);
    if (v && !std::isfinite(*v)) fail(k, "must be finite");
    return v;
  }
  double positive_float_or(std::string_view suffix, double fallback) const {
    double v = opt_float(suffix).value_or(fallback);
    if (!(v > 0.0)) fail(key(suffix), fmt::format("must be positive, got {}", v));
    return v;
  }

 private:
  const GgufFile& file_;
  std::string prefix_;
};

bool has_tensor(const GgufFile& file, const std::string& name) {
  return file.find_tensor(name) != nullptr;
}

void read_rope(const GgufFile& file, const ArchKeys& keys, const ArchitectureInfo& arch,
               ModelDesc& d) {
  RopeDesc& rope = d.rope;
  rope.layout = arch.gguf_rope_layout;
  rope.theta = keys.positive_float_or("rope.freq_base", 10000.0);
  rope.n_dims = keys.uint_or("rope.dimension_count", d.is_mla() ? d.mla.qk_rope_head_dim : d.head_dim_k);
  const std::string type_key = keys.key("rope.scaling.type");
  std::string type = std::string(file.get_string(type_key).value_or("none"));
  double factor = keys.opt_float("rope.scaling.factor").value_or(0.0);
  if (factor == 0.0) {  // older files: rope.scale_linear
    factor = keys.opt_float("rope.scale_linear").value_or(0.0);
    if (factor > 0.0 && factor != 1.0 && type == "none") type = "linear";
  }
  if (type == "none") {
    rope.scaling = RopeScalingType::None;
  } else if (type == "linear") {
    rope.scaling = RopeScalingType::Linear;
  } else if (type == "yarn") {
    rope.scaling = RopeScalingType::Yarn;
  } else {
    keys.fail(type_key, fmt::format("unsupported RoPE scaling '{}'", type));
  }
  if (rope.scaling != RopeScalingType::None) {
    if (!(factor > 0.0)) keys.fail(keys.key("rope.scaling.factor"), "missing or not positive");
    rope.factor = factor;
  }
  if (rope.scaling == RopeScalingType::Yarn) {
    rope.original_context = keys.positive("rope.scaling.original_context_length");
    rope.beta_fast = keys.positive_float_or("rope.scaling.yarn_beta_fast", 32.0);
    rope.beta_slow = keys.positive_float_or("rope.scaling.yarn_beta_slow", 1.0);
    // DeepSeek: llama.cpp's converter writes 0.1 * mscale_all_dim (= mscale).
    if (std::optional<double> log_mul = keys.opt_float("rope.scaling.yarn_log_multiplier")) {
      rope.mscale_all_dim = *log_mul / 0.1;
      rope.mscale = rope.mscale_all_dim;
    }
    rope.truncate = arch.name != "gptoss";
  }
  // llama3 scaling arrives precomputed as per-pair frequency divisors.
  rope.freq_factors_tensor = has_tensor(file, "rope_freqs.weight");
  if (arch.sliding == SlidingLayers::Pattern) {  // Gemma 3 local layers: base 10000 unless stated
    rope.theta_sliding = keys.positive_float_or("rope.freq_base_swa", 10000.0);
  } else if (std::optional<double> swa = keys.opt_float("rope.freq_base_swa")) {
    rope.theta_sliding = *swa;
  }
}

void read_sliding(const GgufFile& file, const ArchKeys& keys, const ArchitectureInfo& arch,
                  ModelDesc& d) {
  d.layer_sliding.assign(d.n_layers, false);
  const uint32_t window = keys.uint_or("attention.sliding_window", 0);
  if (window == 0) return;
  const std::string pattern_key = keys.key("attention.sliding_window_pattern");
  const GgufValue* pattern = file.find(pattern_key);
  if (pattern != nullptr && pattern->type() == GgufValueType::ARRAY) {
    const std::vector<GgufValue>& items = pattern->array();
    if (items.size() < d.n_layers) {
      keys.fail(pattern_key, fmt::format("has {} entries for {} layers", items.size(), d.n_layers));
    }
    for (uint32_t i = 0; i < d.n_layers; ++i) {
      std::optional<bool> sliding = items[i].as_bool();
      if (!sliding) keys.fail(pattern_key, "expected an array of booleans");
      d.layer_sliding[i] = *sliding;
    }
  } else {
    // llama.cpp's set_swa_pattern(n): layer il slides when il % n < n - 1.
    uint32_t n = 0;
    switch (arch.sliding) {
      case SlidingLayers::AllIfWindow: n = 0; break;
      case SlidingLayers::EvenLayers: n = 2; break;
      case SlidingLayers::Pattern: n = 6; break;
      case SlidingLayers::QwenMaxWindow: return;  // llama.cpp does not slide Qwen layers
    }
    if (pattern != nullptr) n = keys.positive("attention.sliding_window_pattern");
    for (uint32_t i = 0; i < d.n_layers; ++i) d.layer_sliding[i] = n == 0 || i % n < n - 1;
  }
  for (bool sliding : d.layer_sliding) {
    if (sliding) d.sliding_window = window;
  }
}

void read_moe(const GgufFile& file, const ArchKeys& keys, const ArchitectureInfo& arch,
              ModelDesc& d) {
  d.layer_moe.assign(d.n_layers, false);
  MoeDesc& m = d.moe;
  m.n_experts = keys.uint_or("expert_count", 0);
  if (m.n_experts == 0) return;
  m.n_experts_used = keys.positive("expert_used_count");
  if (m.n_experts_used > m.n_experts) {
    keys.fail(keys.key("expert_used_count"),
              fmt::format("{} exceeds the {} experts", m.n_experts_used, m.n_experts));
  }
  // Mixtral-style files (llama) size experts with feed_forward_length.
  m.expert_ffn = keys.opt_uint("expert_feed_forward_length").value_or(d.n_ff);
  m.n_shared_experts = keys.uint_or("expert_shared_count", 0);
  m.shared_expert_ffn =
      keys.uint_or("expert_shared_feed_forward_length", m.n_shared_experts * m.expert_ffn);
  const uint32_t dense_first = keys.uint_or("leading_dense_block_count", 0);
  for (uint32_t i = dense_first; i < d.n_layers; ++i) d.layer_moe[i] = true;
  m.gating = arch.gating;
  if (std::optional<uint32_t> func = keys.opt_uint("expert_gating_func")) {
    // llama.cpp: 1 = softmax, 2 = sigmoid
    if (*func == 1) {
      m.gating = ExpertGating::Softmax;
    } else if (*func == 2) {
      m.gating = ExpertGating::Sigmoid;
    } else {
      keys.fail(keys.key("expert_gating_func"), fmt::format("unsupported gating function {}", *func));
    }
  }
  // llama.cpp renormalises top-k for Mixtral, Qwen3-MoE and gpt-oss always,
  // for the others when expert_weights_norm says so.
  const bool always_norm = arch.name == "llama" || arch.name == "qwen3moe" || arch.name == "gptoss";
  const std::string norm_key = keys.key("expert_weights_norm");
  m.norm_topk_prob = file.get_bool(norm_key).value_or(always_norm);
  m.routed_scaling = keys.positive_float_or("expert_weights_scale", 1.0);
  m.n_groups = keys.uint_or("expert_group_count", 1);
  m.topk_groups = keys.uint_or("expert_group_used_count", 1);
  const std::string first_moe = fmt::format("blk.{}.", dense_first);
  m.score_bias = has_tensor(file, first_moe + "exp_probs_b.bias");
  m.router_bias = has_tensor(file, first_moe + "ffn_gate_inp.bias");
  m.expert_bias = has_tensor(file, first_moe + "ffn_gate_exps.bias");
}

}  // namespace

ModelDesc describe_from_gguf(const GgufFile& file) {
  const std::optional<std::string_view> arch_name = file.get_string("general.architecture");
  if (!arch_name) {
    throw InputError(fmt::format("{}: key 'general.architecture': missing", file.name()));
  }
  const ArchitectureInfo* arch = find_architecture_by_gguf(*arch_name);
  if (arch == nullptr) {
    throw InputError(fmt::format("{}: unsupported architecture '{}' (key 'general.architecture')",
                                 file.name(), *arch_name));
  }
  const ArchKeys keys(file, *arch_name);

  ModelDesc d;
  d.architecture = std::string(arch->name);
  d.source_architecture = std::string(*arch_name);
  d.name = std::string(file.get_string("general.name").value_or(""));

  // llama.cpp counts multi-token-prediction layers in block_count.
  const uint32_t blocks = keys.positive("block_count");
  d.n_nextn_layers = keys.uint_or("nextn_predict_layers", 0);
  if (d.n_nextn_layers >= blocks) {
    keys.fail(keys.key("nextn_predict_layers"),
              fmt::format("{} is not below block_count {}", d.n_nextn_layers, blocks));
  }
  d.n_layers = blocks - d.n_nextn_layers;
  d.n_embd = keys.positive("embedding_length");
  d.context_length = keys.positive("context_length");
  d.n_heads = keys.positive("attention.head_count");
  d.n_kv_heads = keys.opt_uint("attention.head_count_kv").value_or(d.n_heads);
  if (d.n_kv_heads == 0 || d.n_heads % d.n_kv_heads != 0) {
    keys.fail(keys.key("attention.head_count_kv"),
              fmt::format("{} does not divide attention.head_count {}", d.n_kv_heads, d.n_heads));
  }
  if (std::optional<uint32_t> head_k = keys.opt_uint("attention.key_length")) {
    d.head_dim_k = *head_k;
  } else {
    if (d.n_embd % d.n_heads != 0) {
      keys.fail(keys.key("attention.head_count"),
                fmt::format("{} does not divide embedding_length {}", d.n_heads, d.n_embd));
    }
    d.head_dim_k = d.n_embd / d.n_heads;
  }
  d.head_dim_v = keys.opt_uint("attention.value_length").value_or(d.head_dim_k);
  if (arch->mla) {
    d.mla.q_lora_rank = keys.uint_or("attention.q_lora_rank", 0);
    d.mla.kv_lora_rank = keys.positive("attention.kv_lora_rank");
    d.mla.qk_rope_head_dim = keys.positive("rope.dimension_count");
    // Newer converters describe the absorbed (MQA) view in key_length and
    // keep the per-head sizes in *_mla.
    d.head_dim_k = keys.opt_uint("attention.key_length_mla").value_or(d.head_dim_k);
    d.head_dim_v = keys.opt_uint("attention.value_length_mla").value_or(d.head_dim_v);
    if (d.head_dim_k <= d.mla.qk_rope_head_dim) {
      keys.fail(keys.key("attention.key_length"), "not larger than the rotary dimension count");
    }
    d.mla.qk_nope_head_dim = d.head_dim_k - d.mla.qk_rope_head_dim;
    d.mla.v_head_dim = d.head_dim_v;
    d.n_kv_heads = d.n_heads;
  }
  d.n_ff = keys.uint_or("feed_forward_length", 0);

  if (std::optional<uint32_t> vocab = keys.opt_uint("vocab_size")) {
    d.vocab_size = *vocab;
  } else if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens")) {
    d.vocab_size = static_cast<uint32_t>(std::min<size_t>(tokens->array().size(), UINT32_MAX));
  } else if (const GgufTensorInfo* embd = file.find_tensor("token_embd.weight");
             embd != nullptr && embd->ne.size() == 2) {
    d.vocab_size = static_cast<uint32_t>(std::min<uint64_t>(embd->ne[1], UINT32_MAX));
  }
  if (d.vocab_size == 0) {
    throw InputError(fmt::format("{}: key '{}': missing, and no tokenizer.ggml.tokens", file.name(),
                                 keys.key("vocab_size")));
  }

  d.norm = arch->norm;
  const std::string eps_key = keys.key("attention.layer_norm_rms_epsilon");
  std::optional<double> eps = file.get_float(eps_key);
  if (!eps) keys.fail(eps_key, "missing");
  d.norm_eps = *eps;
  d.activation = arch->activation;
  if (d.activation == Activation::SwiGLUOaiClamped) d.swiglu_limit = 7.0;  // fixed in gpt-oss

  // Optional parts, as llama.cpp finds them: by the tensors present.
  d.tied_embeddings = !has_tensor(file, "output.weight");
  d.fused_qkv = has_tensor(file, "blk.0.attn_qkv.weight");
  d.qkv_bias = has_tensor(file, "blk.0.attn_q.bias") || has_tensor(file, "blk.0.attn_qkv.bias");
  d.o_bias = has_tensor(file, "blk.0.attn_output.bias");
  d.qk_norm = has_tensor(file, "blk.0.attn_q_norm.weight");
  d.attention_sinks = has_tensor(file, "blk.0.attn_sinks.weight");
  d.post_norms = arch->post_norms;

  read_moe(file, keys, *arch, d);
  bool any_dense = false;
  for (bool moe : d.layer_moe) any_dense = any_dense || !moe;
  if (!any_dense) d.n_ff = 0;
  read_rope(file, keys, *arch, d);
  read_sliding(file, keys, *arch, d);

  d.attn_softcap = keys.opt_float("attn_logit_softcapping").value_or(0.0);
  d.final_softcap = keys.opt_float("final_logit_softcapping").value_or(0.0);
  if (std::optional<double> scale = keys.opt_float("attention.scale")) d.attn_scale = *scale;
  if (arch->mla && d.rope.scaling == RopeScalingType::Yarn && d.rope.mscale_all_dim > 0.0 &&
      d.rope.factor > 1.0) {
    const double m = 0.1 * d.rope.mscale_all_dim * std::log(d.rope.factor) + 1.0;
    d.attn_scale = m * m / std::sqrt(static_cast<double>(d.head_dim_k));
  }
  if (arch->gemma_embedding_scale) d.embedding_scale = std::sqrt(static_cast<double>(d.n_embd));

  validate_model_desc(d, file.name());
  return d;
}

}  // namespace pocketllm
