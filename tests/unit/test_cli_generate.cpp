// `pocketllm run`, `logits` and `perplexity` as a user runs them: bad flags
// and values give a one-line error and exit status 2; on the embedded model
// (stories260K, vocabulary 512) `run` produces llama.cpp's greedy text,
// `logits` writes [n, 512] and its greedy ids are run's, the chat's first
// turn is the template's prompt run, and perplexity ends with llama.cpp's
// final line (and, where node-llama-cpp is installed, its value within 0.5%).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "model/embedded_model.h"
#include "test_support.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;
using test_support::command_output;
using test_support::js_dir;
using test_support::read_file_bytes;
using test_support::run_pocketllm;
using test_support::RunResult;
using test_support::TempDir;
using test_support::test_data_path;

const std::string kText = test_data_path("text/little_stories.txt");

// llama.cpp's greedy continuation of "Once upon a time" on stories260K, as
// ../shared/ASSETS.md records it.
constexpr const char* kLlamaCppContinuation =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw";

const Tokenizer& embedded_tokenizer() {
  static const GgufFile file = GgufFile::from_memory(embedded_default_model(), std::string(kEmbeddedModelName));
  static const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  return tokenizer;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

void expect_bad_input(const RunResult& r, const std::string& message_part) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find(message_part), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliRun, BadFlagsAndValues) {
  TempDir dir;
  const std::string prompt_file = (dir.path() / "prompt.txt").string();
  test_support::write_file(prompt_file, std::string("Once"));
  expect_bad_input(run_pocketllm("run -p hi -f " + prompt_file), "excludes");
  expect_bad_input(run_pocketllm("run -p hi --temp -1"), "--temp");
  expect_bad_input(run_pocketllm("run -p hi --top-k -3"), "--top-k");
  expect_bad_input(run_pocketllm("run -p hi --top-p 1.5"), "--top-p");
  expect_bad_input(run_pocketllm("run -p hi --min-p 2"), "--min-p");
  expect_bad_input(run_pocketllm("run -p hi --seed -7"), "--seed");
  expect_bad_input(run_pocketllm("run -p hi -n -2"), "-n");
  expect_bad_input(run_pocketllm("run -p hi -c many"), "-c");
  expect_bad_input(run_pocketllm("run -p hi -b 0"), "--batch-size");
  expect_bad_input(run_pocketllm("run -p hi --kv-cache-dtype q4_1"),
                   "--kv-cache-dtype: 'q4_1' is not a KV cache type (f32, f16, bf16, q8, q4; also q8_0, q4_0, auto)");
  expect_bad_input(run_pocketllm("run -p hi -ctk q8 -ctv fp8"), "--cache-type-v: 'fp8'");
  expect_bad_input(run_pocketllm("run -f " + (dir.path() / "missing.txt").string()), "cannot read the prompt file");
  expect_bad_input(run_pocketllm("run -p hi -m " + (dir.path() / "missing.gguf").string()), "missing.gguf");
  expect_bad_input(run_pocketllm("run -p hi --no-such-flag"), "--no-such-flag");
  // A prompt longer than the context.
  expect_bad_input(run_pocketllm("run -c 4 -p 'Once upon a time there was a dog'"), "do not fit in the context");
}

TEST(CliLogits, BadFlagsAndValues) {
  TempDir dir;
  const std::string out = (dir.path() / "l.npy").string();
  expect_bad_input(run_pocketllm("logits --out " + out), "--tokens");
  expect_bad_input(run_pocketllm("logits --tokens 1,2"), "--out");
  expect_bad_input(run_pocketllm("logits --tokens 1,x,3 --out " + out), "'x' is not a token id");
  expect_bad_input(run_pocketllm("logits --tokens 1,,3 --out " + out), "'' is not a token id");
  expect_bad_input(run_pocketllm("logits --tokens 1,-4 --out " + out), "'-4' is not a token id");
  expect_bad_input(run_pocketllm("logits --tokens 1,512 --out " + out), "token id 512 is outside the vocabulary");
  expect_bad_input(run_pocketllm("logits --tokens 1,2 --greedy -1 --out " + out), "--greedy");
  expect_bad_input(run_pocketllm("logits --tokens 1,2 --kv-cache-dtype bf8 --out " + out), "--kv-cache-dtype: 'bf8'");
  expect_bad_input(run_pocketllm("logits --tokens 1,2 -ctk q5 --out " + out), "--cache-type-k: 'q5'");
  expect_bad_input(run_pocketllm("logits --tokens 1,2 --out " + (dir.path() / "no" / "l.npy").string()),
                   "cannot open for writing");
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliPerplexity, BadFlagsAndValues) {
  TempDir dir;
  const std::string short_text = (dir.path() / "short.txt").string();
  test_support::write_file(short_text, std::string("Once upon a time there was a cat."));
  expect_bad_input(run_pocketllm("perplexity"), "--file");
  expect_bad_input(run_pocketllm("perplexity -f " + (dir.path() / "missing.txt").string()), "cannot read");
  expect_bad_input(run_pocketllm("perplexity -c 2 -f " + kText), "-c");
  expect_bad_input(run_pocketllm("perplexity -b 0 -f " + kText), "-b");
  expect_bad_input(run_pocketllm("perplexity --kv-cache-dtype f8 -f " + kText), "--kv-cache-dtype");
  // llama-perplexity's rule: at least 2 * n_ctx tokens.
  expect_bad_input(run_pocketllm("perplexity -c 64 -f " + short_text), "perplexity with a context of 64 needs at least 128");
}

TEST(CliRun, GreedyContinuationIsLlamaCpps) {
  const RunResult r = run_pocketllm("run -p 'Once upon a time' --temp 0 -n 40 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, std::string(kLlamaCppContinuation).size()), kLlamaCppContinuation) << r.out;
  EXPECT_NE(r.err.find("40 tokens"), std::string::npos) << r.err;  // logs on stderr

  // Chunked prefill (the 5 prompt tokens as 2 + 2 + 1) continues the same way.
  const RunResult chunked = run_pocketllm("run -p 'Once upon a time' --temp 0 -n 40 -t 1 -b 2");
  ASSERT_EQ(chunked.status, 0) << chunked.err;
  EXPECT_EQ(chunked.out, r.out);
}

TEST(CliRun, SampledTextIsReproducibleForASeed) {
  const RunResult a = run_pocketllm("run -p 'Once upon a time' -n 16 --seed 11 -t 1");
  const RunResult b = run_pocketllm("run -p 'Once upon a time' -n 16 --seed 11 -t 1");
  const RunResult c = run_pocketllm("run -p 'Once upon a time' -n 16 --seed 12 --temp 1.5 -t 1");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_GE(a.out.size(), 16u) << a.out;  // 16 tokens of at least a character each
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST(CliRun, PromptFromFile) {
  TempDir dir;
  const std::string prompt_file = (dir.path() / "prompt.txt").string();
  test_support::write_file(prompt_file, std::string("Once upon a time"));
  const RunResult r = run_pocketllm("run -f " + prompt_file + " --temp 0 -n 40 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, std::string(kLlamaCppContinuation).size()), kLlamaCppContinuation) << r.out;
}

TEST(CliLogits, WritesAllPositionsAndGreedyMatchesRun) {
  TempDir dir;
  const std::string out = (dir.path() / "logits.npy").string();
  const std::vector<TokenId> prompt = embedded_tokenizer().encode("Once upon a time", true, false);
  std::string ids;
  for (TokenId id : prompt) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id);
  }
  constexpr int kGreedy = 24;
  const RunResult r = run_pocketllm("logits --tokens " + ids + " --out " + out + " -t 1 --greedy " +
                                    std::to_string(kGreedy));
  ASSERT_EQ(r.status, 0) << r.err;

  // [n, 512] float32: the 128-byte header numpy writes, then n * 512 floats.
  const std::string bytes = read_file_bytes(out);
  ASSERT_EQ(bytes.size(), 128 + prompt.size() * 512 * sizeof(float));
  EXPECT_NE(bytes.find("'shape': (" + std::to_string(prompt.size()) + ", 512), }"), std::string::npos);
  std::vector<float> logits(prompt.size() * 512);
  std::memcpy(logits.data(), bytes.data() + 128, logits.size() * sizeof(float));
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));

  // Last stdout line: {"greedy": [...]}; its first id is the argmax of the last row.
  const size_t line_start = r.out.rfind('\n', r.out.size() - 2);
  const nlohmann::json last = nlohmann::json::parse(r.out.substr(line_start == std::string::npos ? 0 : line_start));
  const std::vector<TokenId> greedy = last.at("greedy").get<std::vector<TokenId>>();
  ASSERT_EQ(greedy.size(), static_cast<size_t>(kGreedy));
  const float* last_row = logits.data() + (prompt.size() - 1) * 512;
  size_t best = 0;
  for (size_t i = 1; i < 512; ++i) {
    if (last_row[i] > last_row[best]) best = i;
  }
  EXPECT_EQ(greedy[0], static_cast<TokenId>(best));

  // The decode path of `run --temp 0` gives the same tokens: same text.
  StreamDecoder decoder(embedded_tokenizer());
  std::string text;
  for (TokenId id : greedy) {
    if (embedded_tokenizer().vocab().is_end_of_generation(id)) break;
    text += decoder.push(id);
  }
  text += decoder.finish();
  const RunResult run = run_pocketllm("run -p 'Once upon a time' --temp 0 -t 1 -n " + std::to_string(kGreedy));
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, text);
}

TEST(CliLogits, F32AndF16CachesAgreeClosely) {
  // The same positions through an f32 and an f16 KV cache: the f16 rounding
  // (relative 2^-11 per stored value) moves logits only slightly.
  TempDir dir;
  const std::string f32 = (dir.path() / "f32.npy").string();
  const std::string f16 = (dir.path() / "f16.npy").string();
  const std::string tokens = "1,403,407,261,378,432,383,286,261,376";
  ASSERT_EQ(run_pocketllm("logits --tokens " + tokens + " --kv-cache-dtype f32 --out " + f32).status, 0);
  ASSERT_EQ(run_pocketllm("logits --tokens " + tokens + " --kv-cache-dtype f16 --out " + f16).status, 0);
  const std::string a = read_file_bytes(f32);
  const std::string b = read_file_bytes(f16);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), 128 + 10 * 512 * sizeof(float));
  std::vector<float> x(10 * 512);
  std::vector<float> y(10 * 512);
  std::memcpy(x.data(), a.data() + 128, x.size() * sizeof(float));
  std::memcpy(y.data(), b.data() + 128, y.size() * sizeof(float));
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    diff += d * d;
    norm += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
  EXPECT_LT(std::sqrt(diff / norm), 5e-3);  // the f16-KV tolerance
}

TEST(CliRun, ChatFirstTurnIsTheTemplatedPromptRun) {
  // stories260K has no chat template: ChatML. A user line "Hello" renders
  // as the prompt below; the chat's first answer must be what `run -p`
  // generates from it. A second line gets a second answer.
  const std::string chatml = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n";
  const RunResult single = run_pocketllm("run --temp 0 -n 12 -t 1 -p " + quoted(chatml));
  ASSERT_EQ(single.status, 0) << single.err;
  TempDir dir;
  const std::string input = (dir.path() / "chat.txt").string();
  test_support::write_file(input, std::string("Hello\nAnd then?\n"));
  const RunResult chat = run_pocketllm("run --temp 0 -n 12 -t 1 < " + input);
  ASSERT_EQ(chat.status, 0) << chat.err;
  EXPECT_NE(chat.err.find("ChatML"), std::string::npos) << chat.err;
  ASSERT_EQ(chat.out.substr(0, single.out.size() + 1), single.out + "\n") << chat.out;
  // Two answers, each ended by a newline, and the second is not empty.
  EXPECT_GT(chat.out.size(), single.out.size() + 2);
  EXPECT_EQ(chat.out.back(), '\n');
}

// Final estimate: PPL = X +/- Y, parsed; false when absent.
bool parse_final_estimate(const std::string& out, double& ppl, double& err) {
  const size_t at = out.find("Final estimate: PPL = ");
  return at != std::string::npos && std::sscanf(out.c_str() + at, "Final estimate: PPL = %lf +/- %lf", &ppl, &err) == 2;
}

TEST(CliPerplexity, PrintsRunningValuesAndFinalEstimate) {
  const RunResult r = run_pocketllm("perplexity -f " + kText + " -c 128 --chunks 4 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  double ppl = 0.0;
  double err = 0.0;
  ASSERT_TRUE(parse_final_estimate(r.out, ppl, err)) << r.out;
  EXPECT_TRUE(std::isfinite(ppl));
  // A model of 512 tokens does far better than chance (512) on its own kind of text.
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 20.0);
  EXPECT_GT(err, 0.0);
  EXPECT_EQ(r.out.rfind("[1]", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(",[4]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[5]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.err.find("over 4 chunks, n_ctx=128"), std::string::npos) << r.err;
}

TEST(CliPerplexity, WithinHalfAPercentOfLlamaCpp) {
  POCKETLLM_REQUIRE_LLAMA_CPP_ORACLE();
  const std::string model = std::string(POCKETLLM_TEST_DATA_DIR) + "/../../models/stories260K.gguf";
  int status = -1;
  const std::string oracle = command_output(
      "node " + js_dir() + "/llama_cpp_perplexity.mjs --threads 1 --ctx 128 --chunks 4 --model " + model + " --file " + kText,
      status);
  ASSERT_EQ(status, 0) << oracle;
  double llama_ppl = 0.0;
  double llama_err = 0.0;
  ASSERT_TRUE(parse_final_estimate(oracle, llama_ppl, llama_err)) << oracle;

  // The embedded model is the same file; the default f16 cache, as llama.cpp's.
  const RunResult r = run_pocketllm("perplexity -f " + kText + " -c 128 --chunks 4 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  double ppl = 0.0;
  double err = 0.0;
  ASSERT_TRUE(parse_final_estimate(r.out, ppl, err)) << r.out;
  EXPECT_NEAR(ppl / llama_ppl, 1.0, 0.005) << "ours " << ppl << ", llama.cpp " << llama_ppl;
  EXPECT_NEAR(err / llama_err, 1.0, 0.05) << "ours " << err << ", llama.cpp " << llama_err;
}

}  // namespace
}  // namespace pocketllm
