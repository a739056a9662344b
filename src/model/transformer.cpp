#include "model/transformer.h"

#include <filesystem>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/ops/softmax.h"
#include "model/activation_arena.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "util/error.h"

namespace pocketllm {
namespace {

unsigned thread_count(const ModelLoadOptions& options) {
  return options.n_threads > 0 ? options.n_threads : ThreadPool::default_thread_count();
}

std::string layer_tensor(uint32_t layer, std::string_view suffix) {
  return fmt::format("blk.{}.{}", layer, suffix);
}

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

DenseTransformer::DenseTransformer(ModelSource source, const DenseTransformerStyle& style,
                                   const ModelLoadOptions& options)
    : source_(std::make_unique<ModelSource>(std::move(source))),
      desc_(*source_->desc),
      style_(style),
      weights_(*source_),
      pool_(thread_count(options)),
      ctx_(pool_, MatmulKernels(best_matmul_isa(probe_cpu().simd))),
      dims_(attention_dims(desc_)) {
  if (source_->gguf) {
    const GgufFile& file = *source_->gguf;
    if (file.find("tokenizer.ggml.model") != nullptr) tokenizer_.emplace(Tokenizer::from_gguf(file));
    if (std::optional<std::string_view> text = file.get_string("tokenizer.chat_template")) {
      chat_template_ = std::string(*text);
    }
  } else if (source_->hf) {
    // A Hugging Face folder's tokenizer.json beside its config.json, when it has one.
    const std::filesystem::path dir = std::filesystem::path(source_->hf->config_path()).parent_path();
    if (has_hf_tokenizer(dir)) tokenizer_.emplace(Tokenizer::from_hf_dir(dir.string()));
  }
  load_weights();
}

DenseTransformer::~DenseTransformer() = default;

void DenseTransformer::load_weights() {
  const ModelDesc& d = desc_;
  const float norm_offset = source_->format == ModelFormat::Gguf ? 0.0f : style_.hf_norm_offset;
  token_embd_ = load_row_table(weights_, "token_embd.weight", d.vocab_size, d.n_embd);
  output_ = weights_.matrix(d.tied_embeddings ? "token_embd.weight" : "output.weight", d.vocab_size, d.n_embd);
  output_norm_ = weights_.vector_f32("output_norm.weight", d.n_embd, norm_offset);

  // RoPE: one set for every layer, and Gemma 3's own base for sliding layers.
  RopeRows global;
  global.freq = ops::rope_frequencies(d.rope);
  if (d.rope.freq_factors_tensor) {
    const std::vector<float> factors = weights_.vector_f32("rope_freqs.weight", d.rope.n_dims / 2);
    ops::apply_rope_freq_factors(global.freq.inv_freq, factors);
  }
  rope_.push_back(std::move(global));
  const bool sliding_rope = d.rope.theta_sliding > 0.0 && d.n_sliding_layers() > 0;
  if (sliding_rope) {
    RopeRows sliding;
    sliding.freq = ops::rope_frequencies(d.rope, true);
    rope_.push_back(std::move(sliding));
  }

  layers_.reserve(d.n_layers);
  for (uint32_t il = 0; il < d.n_layers; ++il) {
    if (d.layer_is_moe(il)) {
      throw InputError(fmt::format("{}: layer {} routes to experts; {} runs dense layers only",
                                   weights_.source_name(), il, d.architecture));
    }
    Layer layer;
    layer.attn_norm = weights_.vector_f32(layer_tensor(il, "attn_norm.weight"), d.n_embd, norm_offset);
    layer.ffn_norm = weights_.vector_f32(layer_tensor(il, "ffn_norm.weight"), d.n_embd, norm_offset);
    if (style_.norms == NormPlacement::Sandwich) {
      layer.post_attn_norm =
          weights_.vector_f32(layer_tensor(il, "post_attention_norm.weight"), d.n_embd, norm_offset);
      layer.post_ffn_norm = weights_.vector_f32(layer_tensor(il, "post_ffw_norm.weight"), d.n_embd, norm_offset);
    }
    const uint32_t rope_set = sliding_rope && d.layer_is_sliding(il) ? 1 : 0;
    layer.attention = load_attention_layer(weights_, d, il, norm_offset, rope_set);
    layer.ffn = load_gated_ffn(weights_, d, il);
    layers_.push_back(std::move(layer));
  }

  // The LM head stays a file view when tied: token_embd_ reads its rows.
  const bool file_pages = source_->gguf && source_->gguf->is_file_mapping();
  if (!d.tied_embeddings) repacked_.repack(ctx_.kernels, output_, file_pages);
  for (Layer& layer : layers_) {
    for (WeightMatrix* w : {&layer.attention.q, &layer.attention.k, &layer.attention.v, &layer.attention.qkv,
                            &layer.attention.o, &layer.ffn.gate, &layer.ffn.up, &layer.ffn.gate_up, &layer.ffn.down}) {
      repacked_.repack(ctx_.kernels, *w, file_pages);
    }
  }
  for (const Layer& layer : layers_) {
    const AttentionLayerWeights& a = layer.attention;
    for (const WeightMatrix* w : {&a.q, &a.k, &a.v, &a.qkv, &a.o}) {
      if (w->data != nullptr) matmuls_.push_back(*w);
    }
    const GatedFfnWeights& f = layer.ffn;
    for (const WeightMatrix* w : {&f.gate, &f.up, &f.gate_up, &f.down}) {
      if (w->data != nullptr) matmuls_.push_back(*w);
    }
  }
  matmuls_.push_back(output_);
}

void DenseTransformer::check_batch(const ForwardBatch& batch, const PagedKvCache& cache) const {
  batch.check_consistent();
  for (size_t i = 0; i < batch.size(); ++i) {
    const int32_t id = batch.token_ids[i];
    if (id < 0 || static_cast<uint32_t>(id) >= desc_.vocab_size) {
      throw InputError(fmt::format("token id {} is out of range: the model's vocabulary has {} tokens", id,
                                   desc_.vocab_size));
    }
    const int32_t pos = batch.positions[i];
    if (pos < 0 || static_cast<uint32_t>(pos) >= cache.sequence_length(batch.seq_ids[i])) {
      throw std::invalid_argument(fmt::format(
          "forward: row {} (sequence {}, position {}) has no reserved KV slot", i, batch.seq_ids[i], pos));
    }
  }
}

void DenseTransformer::reserve_buffers(size_t n) {
  if (n <= buffers_.capacity) return;
  // The same sizes the memory estimate budgets (activation_arena.h).
  const ActivationShape shape = activation_shape(desc_, n);
  grow(buffers_.x, shape.x);
  grow(buffers_.cur, shape.cur);
  grow(buffers_.qkv, shape.qkv);
  grow(buffers_.attn, shape.attn);
  grow(buffers_.gate_up, shape.gate_up);
  grow(buffers_.hidden, shape.hidden);
  grow(buffers_.logit_rows, shape.logit_rows);
  for (RopeRows& rope : rope_) {
    rope.cos.reserve(shape.rope_per_set());
    rope.sin.reserve(shape.rope_per_set());
  }
  const size_t scratch = quantized_activation_bytes(ctx_.kernels, matmuls_, n, ctx_.pool.size());
  if (ctx_.activation_scratch.size() < scratch) ctx_.activation_scratch.resize(scratch);
  buffers_.capacity = n;
}

void DenseTransformer::prepare_attention_scratch(const PagedKvCache& cache) {
  const uint32_t block_tokens = cache.options().block_tokens;
  if (block_tokens == scratch_block_tokens_ && !attention_scratch_.empty()) return;
  attention_scratch_.clear();
  attention_scratch_.reserve(pool_.size());
  for (unsigned t = 0; t < pool_.size(); ++t) {
    attention_scratch_.emplace_back(attention_scratch_params(desc_), block_tokens);
  }
  attention_work_.partials.assign(attention_split_floats(attention_scratch_params(desc_)), 0.0f);
  scratch_block_tokens_ = block_tokens;
}

void DenseTransformer::run_layer(uint32_t il, const AttentionRun& attention_run, size_t n) {
  const Layer& layer = layers_[il];
  const size_t embd = desc_.n_embd;
  const auto eps = static_cast<float>(desc_.norm_eps);
  float* x = buffers_.x.data();
  float* cur = buffers_.cur.data();
  const bool sandwich = style_.norms == NormPlacement::Sandwich;

  rms_norm_rows(ctx_, x, cur, n, embd, layer.attn_norm, eps);
  run_attention(attention_run, layer.attention, il, cur, cur);
  if (sandwich) rms_norm_rows(ctx_, cur, cur, n, embd, layer.post_attn_norm, eps);
  add_in_place(x, cur, n * embd);

  rms_norm_rows(ctx_, x, cur, n, embd, layer.ffn_norm, eps);
  run_gated_ffn(ctx_, layer.ffn, cur, n, buffers_.gate_up.data(), buffers_.hidden.data(), cur);
  if (sandwich) rms_norm_rows(ctx_, cur, cur, n, embd, layer.post_ffn_norm, eps);
  add_in_place(x, cur, n * embd);
}

void DenseTransformer::compute_logits(const ForwardBatch& batch, std::vector<float>& logits) {
  const size_t embd = desc_.n_embd;
  const size_t vocab = desc_.vocab_size;
  size_t m = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.want_logits[i] == 0) continue;
    const float* row = buffers_.x.data() + i * embd;
    std::copy(row, row + embd, buffers_.logit_rows.data() + m * embd);
    ++m;
  }
  logits.resize(m * vocab);
  if (m == 0) return;
  float* rows = buffers_.logit_rows.data();
  rms_norm_rows(ctx_, rows, rows, m, embd, output_norm_, static_cast<float>(desc_.norm_eps));
  run_linear(ctx_, rows, static_cast<int64_t>(m), output_, logits.data());
  if (desc_.final_softcap > 0.0) {
    ops::soft_cap(logits, static_cast<float>(desc_.final_softcap));
  }
}

void DenseTransformer::forward(const ForwardBatch& batch, PagedKvCache& cache, std::vector<float>& logits) {
  check_batch(batch, cache);
  const size_t n = batch.size();
  if (n == 0) {
    logits.clear();
    return;
  }
  reserve_buffers(n);
  prepare_attention_scratch(cache);
  for (RopeRows& rope : rope_) rope.compute(batch.positions);

  gather_rows(ctx_, token_embd_, batch.token_ids, static_cast<float>(desc_.embedding_scale), buffers_.x.data());
  // Input and output of the attention block share `cur`: the block reads its
  // input only in the first projection, before anything writes `cur`.
  const AttentionRun attention_run{ctx_,  dims_, batch, rope_, cache, attention_scratch_, attention_work_,
                                   buffers_.qkv.data(), buffers_.attn.data()};
  for (uint32_t il = 0; il < desc_.n_layers; ++il) {
    run_layer(il, attention_run, n);
    if (query_observer_) query_observer_(il, batch, buffers_.qkv.data(), dims_.qkv_dim());
  }
  compute_logits(batch, logits);

  // Sliding-window layers no longer need what lies behind every sequence's window.
  for (size_t i = 0; i < n; ++i) {
    const bool last_of_sequence = i + 1 == n || batch.seq_ids[i + 1] != batch.seq_ids[i];
    if (last_of_sequence) {
      cache.release_outside_window(batch.seq_ids[i], static_cast<uint32_t>(batch.positions[i]) + 1);
    }
  }
}

}  // namespace pocketllm
