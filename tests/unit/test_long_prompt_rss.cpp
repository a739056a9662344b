// Chunked prefill keeps memory bounded: `pocketllm run -f` on a prompt 64x
// longer than the chunk peaks at the memory estimate (weights + KV for n_ctx
// + the activation arena of one chunk, planner/memory_estimate.h), measured
// as the child's own peak RSS (VmHWM, printed by `run`).
//
// The runtime (binary, libraries, tokenizer tables, thread stacks) is not in
// the estimate; it is measured, not guessed: a run of an 8-token prompt gives
// runtime = RSS(tiny) - estimate(tiny). Both runs feed the same token, so the
// same weight pages are touched (the untouched embedding rows cancel out),
// and a long run must then peak at runtime + estimate(long) within 5% of
// estimate(long) (issue 6). Anything sized by the prompt instead of the chunk
// would show: one prompt-sized copy of the row buffers is 12.4 MiB here, 64%
// of the 19.5 MiB estimate, and the logits of every row would be 500 MiB.
// Measured (Release, 2 threads): runtime 18.0-18.2 MiB; the 64-token-chunk
// run within -0.9%..+1.2% of runtime + estimate, the one-chunk run within
// -0.3%..+0.5%. The runtime's run-to-run noise reaches 600 KiB, which is why
// the prompt is 4K tokens: at 1K (7.5 MiB estimate) it made up 7%.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "model/model_source.h"
#include "planner/memory_estimate.h"
#include "test_support.h"

namespace pocketllm {
namespace {

using test_support::run_pocketllm;

constexpr unsigned kThreads = 2;
constexpr uint32_t kLongPrompt = 4096;  // tokens, BOS included
constexpr uint32_t kTinyPrompt = 8;

// "the the the ...": the llama SPM vocabulary makes each " the" one token, so
// the prompt is exactly n tokens with BOS (checked against run's own count).
std::string prompt_of(uint32_t n_tokens) {
  std::string text = "the";
  for (uint32_t i = 2; i < n_tokens; ++i) text += " the";
  return text;
}

struct Measured {
  uint64_t peak_rss = 0;
  uint64_t estimate = 0;
};

class LongPromptRss : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef POCKETLLM_TEST_ASAN
    GTEST_SKIP() << "ASan's shadow memory and quarantine inflate RSS; the RSS bound is checked in Release";
#endif
    // 32 blocks of width 64 (2 KV heads of 16): KV is 4 KiB per token, so
    // the cache dominates at 4K tokens while prefill stays near a second.
    model_ = (dir_.path() / "tiny32.gguf").string();
    const test_support::RunResult gen = run_pocketllm(
        "gen --arch llama --preset tiny --n-layers 32 --type q4_0 --seed 1 --vocab " +
        test_support::test_data_path("tokenizer/llama-cpp-vocab/ggml-vocab-llama-spm.gguf") + " -o " + model_);
    ASSERT_EQ(gen.status, 0) << gen.err;
  }

  Measured run(uint32_t n_prompt, uint32_t chunk) {
    const std::string prompt_file = (dir_.path() / ("prompt" + std::to_string(n_prompt) + ".txt")).string();
    test_support::write_file(prompt_file, prompt_of(n_prompt));
    const uint32_t n_ctx = n_prompt + 1;  // the prompt and the one generated token: every KV page is written
    const test_support::RunResult r =
        run_pocketllm("run -m " + model_ + " -f " + prompt_file + " -c " + std::to_string(n_ctx) +
                      " -n 1 --temp 0 -t " + std::to_string(kThreads) + " --max-num-batched-tokens " +
                      std::to_string(chunk));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("run: prompt " + std::to_string(n_prompt) + " tokens"), std::string::npos) << r.err;
    std::smatch m;
    Measured out;
    if (std::regex_search(r.err, m, std::regex(R"(peak RSS [^(]*\((\d+) bytes\))"))) {
      out.peak_rss = std::stoull(m[1].str());
    }
    EXPECT_GT(out.peak_rss, 0u) << "no peak RSS line in:\n" << r.err;

    MemoryEstimateOptions options;
    options.n_ctx = n_ctx;
    options.max_batched_tokens = chunk;
    options.n_threads = kThreads;
    out.estimate = estimate_memory(open_model_source(model_), options).total();
    return out;
  }

  test_support::TempDir dir_;
  std::string model_;
};

TEST_F(LongPromptRss, PeakRssIsRuntimePlusEstimateWithin5Percent) {
  // One chunk of the whole tiny prompt, so that its arena is what the estimate counts.
  const Measured tiny = run(kTinyPrompt, kTinyPrompt);
  const auto runtime = static_cast<double>(tiny.peak_rss) - static_cast<double>(tiny.estimate);
  // The runtime is the binary, libraries and tokenizer: tens of MiB, never
  // negative (that would mean the estimate counts memory the run never uses).
  EXPECT_GT(runtime, 0.0);
  EXPECT_LT(runtime, 64.0 * 1024 * 1024);

  for (const uint32_t chunk : {64u, kLongPrompt}) {
    const Measured long_run = run(kLongPrompt, chunk);
    const double predicted = runtime + static_cast<double>(long_run.estimate);
    const double error = static_cast<double>(long_run.peak_rss) - predicted;
    std::printf("chunk %u: peak RSS %llu, runtime %.0f + estimate %llu = %.0f, error %.2f%% of the estimate\n", chunk,
                static_cast<unsigned long long>(long_run.peak_rss), runtime,
                static_cast<unsigned long long>(long_run.estimate), predicted,
                100.0 * error / static_cast<double>(long_run.estimate));
    EXPECT_LE(std::abs(error), 0.05 * static_cast<double>(long_run.estimate)) << "chunk " << chunk;
  }
}

// llama.cpp's -b / -ub and vLLM's --max-num-batched-tokens are one option:
// the same chunks (the plan line names them) and the same greedy text.
TEST(ChunkedPrefillFlags, AllSpellingsSetTheChunk) {
  std::string first_out;
  for (const char* flag : {"-b", "-ub", "--ubatch-size", "--max-num-batched-tokens"}) {
    const test_support::RunResult r =
        run_pocketllm(std::string("run -p 'Once upon a time' --temp 0 -n 8 -t 1 ") + flag + " 2");
    ASSERT_EQ(r.status, 0) << flag << "\n" << r.err;
    EXPECT_NE(r.err.find("(2-token chunks)"), std::string::npos) << flag << "\n" << r.err;
    if (first_out.empty()) first_out = r.out;
    EXPECT_EQ(r.out, first_out) << flag;
  }
  EXPECT_FALSE(first_out.empty());
}

}  // namespace
}  // namespace pocketllm
