#include "model/model_info.h"

#include <array>

#include <fmt/format.h>

namespace pocketllm {
namespace {

using nlohmann::json;

constexpr std::array<KvType, 3> kKvTypes = {KvType::F16, KvType::Q8, KvType::Q4};

// The --kv-cache-dtype names, with the plain width people ask about.
std::string kv_type_label(KvType type) {
  switch (type) {
    case KvType::F16: return "f16";
    case KvType::Q8: return "q8 (int8)";
    case KvType::Q4: return "q4 (int4)";
  }
  return std::string(kv_type_name(type));
}
constexpr uint64_t kReferenceContext = 4096;

json rope_json(const RopeDesc& r) {
  json j = {{"theta", r.theta},
            {"dims", r.n_dims},
            {"layout", rope_layout_name(r.layout)},
            {"scaling", rope_scaling_name(r.scaling)}};
  if (r.scaling != RopeScalingType::None) j["factor"] = r.factor;
  if (r.scaling == RopeScalingType::Llama3 || r.scaling == RopeScalingType::Yarn) {
    j["original_context"] = r.original_context;
  }
  if (r.scaling == RopeScalingType::Llama3) {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
  }
  if (r.scaling == RopeScalingType::Yarn) {
    j["beta_fast"] = r.beta_fast;
    j["beta_slow"] = r.beta_slow;
    j["mscale"] = r.mscale;
    j["mscale_all_dim"] = r.mscale_all_dim;
    j["truncate"] = r.truncate;
  }
  if (r.freq_factors_tensor) j["freq_factors_tensor"] = true;
  if (r.theta_sliding > 0.0) j["theta_sliding"] = r.theta_sliding;
  return j;
}

std::vector<uint32_t> layers_where(const std::vector<bool>& flags) {
  std::vector<uint32_t> layers;
  for (uint32_t i = 0; i < flags.size(); ++i) {
    if (flags[i]) layers.push_back(i);
  }
  return layers;
}

}  // namespace

json model_desc_to_json(const ModelDesc& d) {
  json j = {
      {"architecture", d.architecture},
      {"source_architecture", d.source_architecture},
      {"name", d.name},
      {"layers", d.n_layers},
      {"nextn_layers", d.n_nextn_layers},
      {"embedding_size", d.n_embd},
      {"heads", d.n_heads},
      {"kv_heads", d.n_kv_heads},
      {"head_dim_k", d.head_dim_k},
      {"head_dim_v", d.head_dim_v},
      {"ffn_size", d.n_ff},
      {"vocab_size", d.vocab_size},
      {"context_length", d.context_length},
      {"norm", norm_type_name(d.norm)},
      {"norm_eps", d.norm_eps},
      {"activation", activation_name(d.activation)},
      {"tied_embeddings", d.tied_embeddings},
      {"qkv_bias", d.qkv_bias},
      {"o_bias", d.o_bias},
      {"qk_norm", d.qk_norm},
      {"fused_qkv", d.fused_qkv},
      {"post_norms", d.post_norms},
      {"rope", rope_json(d.rope)},
      {"sliding_window", d.sliding_window},
      {"sliding_layers", layers_where(d.layer_sliding)},
      {"attention_sinks", d.attention_sinks},
      {"attn_softcap", d.attn_softcap},
      {"final_softcap", d.final_softcap},
      {"softmax_scale", d.softmax_scale()},
      {"embedding_scale", d.embedding_scale},
  };
  if (d.swiglu_limit > 0.0) j["swiglu_limit"] = d.swiglu_limit;
  j["moe"] = nullptr;
  if (d.is_moe()) {
    const MoeDesc& m = d.moe;
    j["moe"] = {{"experts", m.n_experts},
                {"experts_used", m.n_experts_used},
                {"shared_experts", m.n_shared_experts},
                {"expert_ffn_size", m.expert_ffn},
                {"shared_expert_ffn_size", m.shared_expert_ffn},
                {"gating", expert_gating_name(m.gating)},
                {"norm_topk_prob", m.norm_topk_prob},
                {"score_bias", m.score_bias},
                {"routed_scaling", m.routed_scaling},
                {"groups", m.n_groups},
                {"topk_groups", m.topk_groups},
                {"router_bias", m.router_bias},
                {"expert_bias", m.expert_bias},
                {"leading_dense_layers", d.leading_dense_layers()},
                {"moe_layers", layers_where(d.layer_moe)}};
  }
  j["mla"] = nullptr;
  if (d.is_mla()) {
    j["mla"] = {{"q_lora_rank", d.mla.q_lora_rank},
                {"kv_lora_rank", d.mla.kv_lora_rank},
                {"qk_nope_head_dim", d.mla.qk_nope_head_dim},
                {"qk_rope_head_dim", d.mla.qk_rope_head_dim},
                {"v_head_dim", d.mla.v_head_dim}};
  }
  return j;
}

json model_info_to_json(const ModelDesc& d, const ModelStats& s) {
  json j = model_desc_to_json(d);
  j["parameters"] = {{"total", s.total_params},
                     {"token_embedding", s.token_embedding_params},
                     {"output", s.output_params},
                     {"non_embedding", s.non_embedding_params},
                     {"routed_experts", s.routed_expert_params},
                     {"active", s.active_params},
                     {"active_excl_token_embedding", s.active_params_excl_token_embd}};
  const KvCacheStats& kv = s.kv;
  json per_token = json::object();
  json reference = json::object();
  json at_context = json::object();
  for (KvType type : kKvTypes) {
    const std::string name(kv_type_name(type));
    per_token[name] = {{"full_layers", kv.full_bytes_per_token(type)},
                       {"sliding_layers", kv.sliding_bytes_per_token(type)}};
    reference[name] = kv.bytes_for_context(kReferenceContext, type);
    at_context[name] = kv.bytes_for_context(d.context_length, type);
  }
  j["kv_cache"] = {{"full_layers", kv.n_full_layers},
                   {"sliding_layers", kv.n_sliding_layers},
                   {"sliding_window", kv.sliding_window},
                   {"latent", kv.mla},
                   {"bytes_per_token", per_token},
                   {"bytes_at_4096_tokens", reference},
                   {"bytes_at_context_length", at_context}};
  if (kv.mla) {
    json expanded = json::object();
    for (KvType type : kKvTypes) {
      const std::string name(kv_type_name(type));
      expanded[name] = {{"bytes_per_token", kv.expanded_bytes_per_token(type)},
                        {"bytes_at_4096_tokens", kv.expanded_bytes_for_context(kReferenceContext, type)}};
    }
    j["kv_cache"]["expanded"] = expanded;
  }
  return j;
}

std::string format_bytes(uint64_t bytes) {
  constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::string format_count(uint64_t count) {
  const double value = static_cast<double>(count);
  if (count >= 1'000'000'000) return fmt::format("{:.2f} B", value / 1e9);
  if (count >= 1'000'000) return fmt::format("{:.2f} M", value / 1e6);
  if (count >= 1'000) return fmt::format("{:.2f} K", value / 1e3);
  return fmt::format("{}", count);
}

std::string format_model_info(const ModelDesc& d, const ModelStats& s) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    out += fmt::format("{:<22}{}\n", label, value);
  };
  line("architecture", d.source_architecture.empty() || d.source_architecture == d.architecture
                           ? d.architecture
                           : fmt::format("{} ({})", d.architecture, d.source_architecture));
  if (!d.name.empty()) line("name", d.name);
  line("layers", fmt::format("{}{}", d.n_layers,
                             d.n_nextn_layers > 0 ? fmt::format(" (+{} MTP, unused)", d.n_nextn_layers) : ""));
  line("embedding", fmt::format("{}, vocab {}, context {}", d.n_embd, d.vocab_size, d.context_length));
  std::string attention = fmt::format("{} heads, {} KV heads, head dim {}", d.n_heads, d.n_kv_heads, d.head_dim_k);
  if (d.head_dim_v != d.head_dim_k) attention += fmt::format(" (V {})", d.head_dim_v);
  if (d.qk_norm) attention += ", q/k norm";
  if (d.qkv_bias) attention += d.o_bias ? ", qkvo bias" : ", qkv bias";
  if (d.attention_sinks) attention += ", sinks";
  if (d.attn_softcap > 0.0) attention += fmt::format(", softcap {}", d.attn_softcap);
  line("attention", attention);
  if (d.is_mla()) {
    line("mla", fmt::format("q_lora {}, kv_lora {}, nope {}, rope {}, v {}", d.mla.q_lora_rank,
                            d.mla.kv_lora_rank, d.mla.qk_nope_head_dim, d.mla.qk_rope_head_dim,
                            d.mla.v_head_dim));
  }
  if (d.sliding_window > 0) {
    line("sliding window", fmt::format("{} tokens on {} of {} layers", d.sliding_window,
                                       d.n_sliding_layers(), d.n_layers));
  }
  std::string rope = fmt::format("theta {}, {} dims, {}", d.rope.theta, d.rope.n_dims,
                                 rope_layout_name(d.rope.layout));
  if (d.rope.scaling != RopeScalingType::None) {
    rope += fmt::format(", {} x{}", rope_scaling_name(d.rope.scaling), d.rope.factor);
    if (d.rope.original_context > 0) rope += fmt::format(" (from {})", d.rope.original_context);
  }
  if (d.rope.theta_sliding > 0.0) rope += fmt::format(", sliding layers theta {}", d.rope.theta_sliding);
  line("rope", rope);
  line("ffn", fmt::format("{}, {}{}", d.n_ff > 0 ? std::to_string(d.n_ff) : "none (all MoE)",
                          activation_name(d.activation), d.tied_embeddings ? ", tied embeddings" : ""));
  line("norm", fmt::format("{} eps {:.3g}", norm_type_name(d.norm), d.norm_eps));
  if (d.is_moe()) {
    const MoeDesc& m = d.moe;
    std::string moe = fmt::format("{} experts, {} per token, expert FFN {}", m.n_experts,
                                  m.n_experts_used, m.expert_ffn);
    if (m.n_shared_experts > 0) moe += fmt::format(", {} shared", m.n_shared_experts);
    moe += fmt::format(", {} gating", expert_gating_name(m.gating));
    moe += fmt::format(", {} MoE layers", layers_where(d.layer_moe).size());
    line("moe", moe);
  }
  line("parameters", fmt::format("{} ({})", format_count(s.total_params), s.total_params));
  if (d.is_moe()) {
    line("active/token", fmt::format("{} ({}); {} without the token embedding",
                                     format_count(s.active_params), s.active_params,
                                     format_count(s.active_params_excl_token_embd)));
  }
  const KvCacheStats& kv = s.kv;
  for (KvType type : kKvTypes) {
    std::string value = fmt::format("{} B/token", kv.full_bytes_per_token(type));
    if (kv.n_sliding_layers > 0) {
      value += fmt::format(" full + {} B/token sliding (capped at {} tokens)",
                           kv.sliding_bytes_per_token(type), kv.sliding_window);
    }
    value += fmt::format("; {} at 4096 tokens", format_bytes(kv.bytes_for_context(kReferenceContext, type)));
    if (kv.mla) {
      value += fmt::format(" (latent; expanded {} B/token, {})", kv.expanded_bytes_per_token(type),
                           format_bytes(kv.expanded_bytes_for_context(kReferenceContext, type)));
    }
    line(fmt::format("kv cache {}", kv_type_label(type)), value);
  }
  return out;
}

}  // namespace pocketllm
