// `pocketllm run [-m MODEL] [-p PROMPT | -f PROMPT_FILE] [-c N_CTX] [-n N] [-b|--max-num-batched-tokens N]
// [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S] [-t THREADS]
// [--kv-cache-dtype f16|bf16|q8|q4|f32] [-ctk T] [-ctv T]`
//
// With a prompt: streams the generated text (not the prompt) to stdout as it
// comes; everything else (load, speed) goes to stderr. The prompt is
// tokenized as llama.cpp's tools do: with the model's BOS, special-token text
// parsed.
//
// Without -p/-f: an interactive chat. Each stdin line is a user message; the
// conversation is rendered with the model's chat template (ChatML when it has
// none) and only the new part of the rendered text is fed, so the
// conversation stays in the KV cache between turns (llama.cpp's simple-chat
// scheme). EOF ends the chat.
//
// The prompt is fed in chunks of -b tokens (chunked prefill): peak activation
// memory follows the chunk, not the prompt. A "plan" line on stderr gives the
// memory estimate (weights + KV for n_ctx + activation arena).
//
// Sampling defaults are llama.cpp's (temp 0.8, top-k 40, top-p 0.95, min-p
// 0.05); --temp 0 is greedy; --seed -1 (default) picks a random seed.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "cli/kv_cache_flags.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "formats/gguf.h"
#include "model/embedded_model.h"
#include "model/model.h"
#include "planner/memory_estimate.h"
#include "planner/memory_probe.h"
#include "planner/process_memory.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text_file.h"

namespace pocketllm::cli {
namespace {

constexpr uint32_t kDefaultContext = 4096;  // llama.cpp's default -c

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  bool has_prompt = false;
  uint32_t n_ctx = 0;  // 0: min(4096, the model's context length)
  int32_t n_predict = -1;
  uint32_t n_batch = 512;  // prompt tokens per forward call (chunked prefill)
  SamplingParams sampling;  // its seed comes from `seed`
  int64_t seed = -1;
  unsigned n_threads = 0;
  KvCacheFlags kv_cache;
  bool prefix_caching = true;  // --no-enable-prefix-caching turns it off
  bool cache_eviction = false;
  CacheEvictionConfig eviction;  // max_cache_size 0: the context size
  std::string eviction_policy = "streaming";
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void write_stdout(std::string_view text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

SamplingParams sampling_params(const RunOptions& options) {
  SamplingParams params = options.sampling;
  if (options.seed < -1) {
    throw InputError(fmt::format("--seed: {} is not a seed (>= 0, or -1 for a random one)", options.seed));
  }
  params.seed = options.seed == -1 ? std::random_device{}() : static_cast<uint64_t>(options.seed);
  validate_sampling_params(params);
  return params;
}

uint32_t context_size(const RunOptions& options, const ModelDesc& desc) {
  if (options.n_ctx > 0) return options.n_ctx;
  return desc.context_length > 0 ? std::min(kDefaultContext, desc.context_length) : kDefaultContext;
}

void log_stats(const GenerationResult& result, double seconds) {
  const char* reason = result.stop == StopReason::EndOfGeneration ? "end of generation"
                       : result.stop == StopReason::ContextFull  ? "context full"
                                                                 : "token limit";
  std::fprintf(stderr, "\nrun: %zu tokens in %.2f s (%.1f tokens/s), stopped at %s\n", result.tokens.size(), seconds,
               seconds > 0.0 ? static_cast<double>(result.tokens.size()) / seconds : 0.0, reason);
}

void run_once(Generator& generator, const Tokenizer& tokenizer, Sampler& sampler, const std::string& prompt,
              int32_t n_predict) {
  const std::vector<TokenId> tokens = tokenizer.encode(prompt, true, true);
  if (tokens.empty()) throw InputError("the prompt is empty and the model adds no BOS token");
  const auto start = Clock::now();
  generator.feed(tokens);
  const double prefill_seconds = seconds_since(start);
  std::fprintf(stderr, "run: prompt %zu tokens in %.2f s (%.1f tokens/s)\n", tokens.size(), prefill_seconds,
               prefill_seconds > 0.0 ? static_cast<double>(tokens.size()) / prefill_seconds : 0.0);
  const auto decode_start = Clock::now();
  const GenerationResult result =
      generator.generate(sampler, n_predict, [](TokenId, std::string_view text) { write_stdout(text); });
  log_stats(result, seconds_since(decode_start));
  if (generator.n_evicted_tokens() > 0) {
    std::fprintf(stderr, "run: cache eviction dropped %llu tokens\n",
                 static_cast<unsigned long long>(generator.n_evicted_tokens()));
  }
}

ChatTemplate load_chat_template(const std::string& model_path) {
  if (model_path.empty()) {
    const GgufFile embedded = GgufFile::from_memory(embedded_default_model(), std::string(kEmbeddedModelName));
    return ChatTemplate::from_gguf(embedded);
  }
  return ChatTemplate::from_model(model_path);
}

void run_chat(Generator& generator, const Tokenizer& tokenizer, Sampler& sampler, const ChatTemplate& chat,
              int32_t n_predict) {
  if (chat.is_fallback()) std::fprintf(stderr, "run: the model has no chat template; using ChatML\n");
  std::fprintf(stderr, "run: chat mode: one message per line, EOF (Ctrl-D) ends\n");
  const Vocab& vocab = tokenizer.vocab();
  const std::string bos_text = vocab.bos != kNoToken ? std::string(vocab.token(vocab.bos).text) : std::string();

  ChatRequest request;
  size_t rendered_before = 0;  // length of the conversation text already in the cache
  std::string line;
  for (;;) {
    std::fputs("> ", stderr);
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    request.messages.push_back({{"role", "user"}, {"content", line}});
    request.add_generation_prompt = true;
    const std::string rendered = chat.render(request);
    const std::string new_text = rendered.substr(std::min(rendered_before, rendered.size()));
    // BOS once, at the start, unless the template writes it itself.
    const bool first = generator.n_past() == 0;
    const bool add_bos = first && (bos_text.empty() || rendered.compare(0, bos_text.size(), bos_text) != 0);
    const std::vector<TokenId> tokens = tokenizer.encode(new_text, add_bos, true);
    if (tokens.empty()) continue;
    if (tokens.size() >= generator.n_ctx() - generator.n_past()) {
      throw InputError(fmt::format("the conversation no longer fits in the context of {} tokens (raise -c)",
                                   generator.n_ctx()));
    }
    generator.feed(tokens);
    const GenerationResult result =
        generator.generate(sampler, n_predict, [](TokenId, std::string_view text) { write_stdout(text); });
    write_stdout("\n");

    request.messages.push_back({{"role", "assistant"}, {"content", tokenizer.decode(result.tokens)}});
    request.add_generation_prompt = false;
    rendered_before = chat.render(request).size();
    if (result.stop == StopReason::ContextFull) {
      std::fprintf(stderr, "run: the context of %u tokens is full; ending the chat\n", generator.n_ctx());
      break;
    }
  }
}

void run_run(const RunOptions& options) {
  if (options.has_prompt && !options.prompt_file.empty()) throw InputError("-p and -f cannot be used together");
  const KvCacheTypes kv_types = kv_cache_types_from_flags(options.kv_cache);
  SamplingParams params = sampling_params(options);
  std::string prompt = options.prompt;
  if (!options.prompt_file.empty()) {
    auto text = read_text_file(options.prompt_file);
    if (!text) throw InputError(options.prompt_file + ": cannot read the prompt file");
    prompt = std::move(*text);
  }
  const bool chat = !options.has_prompt && options.prompt_file.empty();

  const auto load_start = Clock::now();
  ModelLoadOptions load_options;
  load_options.n_threads = options.n_threads;
  std::unique_ptr<Model> model = Model::load(options.model, load_options);
  const Tokenizer* tokenizer = model->tokenizer();
  if (tokenizer == nullptr) {
    throw InputError(fmt::format("{}: the model has no tokenizer; `pocketllm logits --tokens` runs it on token ids",
                                 options.model));
  }
  const uint32_t n_ctx = context_size(options, model->desc());
  // With eviction the cache holds max_cache_size tokens and generation runs on past it.
  CacheEvictionConfig eviction = options.eviction;
  eviction.policy = eviction_policy_from_name(options.eviction_policy);
  const uint32_t block_tokens = KvCacheOptions().block_tokens;
  if (eviction.max_cache_size == 0) eviction.max_cache_size = n_ctx / block_tokens * block_tokens;
  const bool prefix_caching = options.prefix_caching && !options.cache_eviction;
  std::unique_ptr<PagedKvCache> cache = make_single_sequence_cache(
      model->desc(), options.cache_eviction ? std::max(eviction.max_cache_size, 1u) : n_ctx, kv_types, prefix_caching);
  if (prefix_caching && !cache->prefix_caching()) {
    std::fprintf(stderr, "run: prefix caching off: %s\n", cache->prefix_caching_off_reason());
  }
  std::fprintf(stderr, "run: %s loaded in %.2f s; n_ctx = %u, KV cache %s (%.1f MiB), seed = %llu\n",
               options.model.empty() ? std::string(kEmbeddedModelName).c_str() : options.model.c_str(),
               seconds_since(load_start), n_ctx, kv_cache_types_name(kv_types).c_str(),
               static_cast<double>(cache->pool_bytes()) / (1024.0 * 1024.0),
               static_cast<unsigned long long>(params.seed));

  // The plan: weights + the KV pool + one chunk's activation arena (the
  // loaded model's own file, not a second parse of it).
  MemoryEstimateOptions plan;
  plan.n_ctx = options.cache_eviction ? std::max(eviction.max_cache_size, 1u) : n_ctx;
  plan.max_batched_tokens = options.n_batch;
  plan.n_threads = options.n_threads;
  plan.kv = cache->options();
  std::optional<MemoryEstimate> estimate;
  if (model->source() != nullptr) {
    estimate = estimate_memory(*model->source(), plan);
    std::fprintf(stderr, "run: plan: %s\n", format_memory_estimate(*estimate, plan).c_str());
  }

  Generator generator(*model, *cache, n_ctx, tokenizer);
  generator.set_prefill_chunk(options.n_batch);
  if (options.cache_eviction) {
    generator.set_cache_eviction(eviction);
    std::fprintf(stderr, "run: cache eviction (%s): keep %u start + %u recent tokens, at most %u in the cache\n",
                 std::string(eviction_policy_name(eviction.policy)).c_str(), eviction.start_size,
                 eviction.recent_size, eviction.max_cache_size);
  }
  Sampler sampler(params);
  if (chat) {
    run_chat(generator, *tokenizer, sampler, load_chat_template(options.model), options.n_predict);
  } else {
    run_once(generator, *tokenizer, sampler, prompt, options.n_predict);
  }
  // Measured against the plan (the long-prompt RSS test reads this line).
  const std::optional<uint64_t> peak = peak_resident_bytes();
  if (peak && estimate) {
    std::fprintf(stderr, "run: peak RSS %s (%llu bytes); plan %s (%llu bytes)\n", format_memory_size(*peak).c_str(),
                 static_cast<unsigned long long>(*peak), format_memory_size(estimate->total()).c_str(),
                 static_cast<unsigned long long>(estimate->total()));
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Generate text from a prompt, or chat (no prompt)");
  add_model_flag(*command, options->model);
  CLI::Option* prompt = command->add_option("-p,--prompt", options->prompt, "Prompt text (none: interactive chat)");
  CLI::Option* file = command->add_option("-f,--file", options->prompt_file, "Read the prompt from a file");
  prompt->excludes(file);
  command->add_option("-c,--ctx-size", options->n_ctx,
                      fmt::format("Context size in tokens (default: min({}, the model's))", kDefaultContext));
  command->add_option("-n,--n-predict", options->n_predict,
                      "Tokens to generate (per chat turn); -1 (default): until end of text or a full context")
      ->check(CLI::Range(-1, 1 << 30));
  add_batch_size_flag(*command, options->n_batch, "Prompt tokens per forward call (chunked prefill; default 512)");
  command->add_option("--temp", options->sampling.temperature, "Temperature; 0 = greedy (default 0.8)");
  command->add_option("--top-k", options->sampling.top_k, "Top-k; 0 = off (default 40)");
  command->add_option("--top-p", options->sampling.top_p, "Top-p; 1 = off (default 0.95)");
  command->add_option("--min-p", options->sampling.min_p, "Min-p; 0 = off (default 0.05)");
  command->add_option("-s,--seed", options->seed, "Random seed; -1 (default) = random");
  add_threads_flag(*command, options->n_threads);
  add_kv_cache_flags(*command, options->kv_cache);
  command->add_flag("!--no-enable-prefix-caching", options->prefix_caching,
                    "Turn off automatic prefix caching (on by default for full-attention models)");
  command->add_flag("--cache-eviction", options->cache_eviction,
                    "Evict old KV blocks past --max-cache-size, keeping --start-size sink and --recent-size tokens "
                    "(StreamingLLM); generation then runs past the context size");
  command->add_option("--start-size", options->eviction.start_size, "Cache eviction: tokens kept at the start (default 32)");
  command->add_option("--recent-size", options->eviction.recent_size,
                      "Cache eviction: most recent tokens never evicted (default 128)");
  options->eviction.max_cache_size = 0;
  command->add_option("--max-cache-size", options->eviction.max_cache_size,
                      "Cache eviction: most tokens kept (default: the context size -c)");
  // Measured on stories260K at a 128-token budget (tests/unit/test_kv_eviction.cpp,
  // ImportancePolicyPerplexity): see kv/kv_eviction.h.
  command->add_option("--cache-eviction-policy", options->eviction_policy,
                      "Cache eviction: which evictable blocks go: streaming (the oldest, StreamingLLM; default) or "
                      "h2o (the least attended so far, H2O; costs about one more attention pass)");
  command->callback([options, prompt] {
    options->has_prompt = prompt->count() > 0;
    run_run(*options);
  });
}

}  // namespace pocketllm::cli
