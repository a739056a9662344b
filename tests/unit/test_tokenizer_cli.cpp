// `pocketllm tokenize` as a user runs it, on the embedded stories260K model
// (512-token SentencePiece vocab, BOS 1, add_space_prefix). "Once upon a
// time" gives llama.cpp's ids for that model: BOS, then each word with its
// space prefix is a whole token of the vocab ("▁Once" 403, "▁upon" 407,
// "▁a" 261, "▁time" 378; checked against the vocab below), so SentencePiece
// merging ends with one token per word.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "model/embedded_model.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace pocketllm::test_support;

TEST(CliTokenize, EmbeddedVocabHasTheWordTokens) {
  const pocketllm::GgufFile file =
      pocketllm::GgufFile::from_memory(pocketllm::embedded_default_model(), "embedded");
  const pocketllm::Tokenizer tokenizer = pocketllm::Tokenizer::from_gguf(file);
  const pocketllm::Vocab& vocab = tokenizer.vocab();
  EXPECT_EQ(vocab.n_tokens(), 512);
  EXPECT_EQ(vocab.bos, 1);
  EXPECT_EQ(vocab.token(403).text, "\xE2\x96\x81Once");
  EXPECT_EQ(vocab.token(407).text, "\xE2\x96\x81upon");
  EXPECT_EQ(vocab.token(261).text, "\xE2\x96\x81" "a");
  EXPECT_EQ(vocab.token(378).text, "\xE2\x96\x81time");
}

TEST(CliTokenize, IdsOfOnceUponATime) {
  const RunResult run = run_pocketllm("tokenize --ids 'Once upon a time'");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "[1, 403, 407, 261, 378]\n");
}

TEST(CliTokenize, DefaultPrintsIdAndPiecePerLine) {
  const RunResult run = run_pocketllm("tokenize 'Once upon a time'");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out,
            "     1 -> '<s>'\n"
            "   403 -> ' Once'\n"
            "   407 -> ' upon'\n"
            "   261 -> ' a'\n"
            "   378 -> ' time'\n");
}

TEST(CliTokenize, NoBosAndJson) {
  const RunResult run = run_pocketllm("tokenize --no-bos --json 'Once upon a time'");
  ASSERT_EQ(run.status, 0) << run.err;
  const nlohmann::json tokens = nlohmann::json::parse(run.out);
  ASSERT_EQ(tokens.size(), 4U);
  EXPECT_EQ(tokens[0].at("id"), 403);
  EXPECT_EQ(tokens[0].at("piece"), " Once");
  EXPECT_EQ(tokens[3].at("id"), 378);
  EXPECT_EQ(tokens[3].at("piece"), " time");
}

// "<s>" is BOS only with --special; otherwise it is text (no id 1 in it).
TEST(CliTokenize, SpecialParsesControlText) {
  const RunResult special = run_pocketllm("tokenize --no-bos --special --ids '<s>'");
  ASSERT_EQ(special.status, 0) << special.err;
  EXPECT_EQ(special.out, "[1]\n");
  const RunResult literal = run_pocketllm("tokenize --no-bos --ids '<s>'");
  ASSERT_EQ(literal.status, 0) << literal.err;
  EXPECT_NE(literal.out, "[1]\n");
  EXPECT_EQ(literal.out.find("[1,"), std::string::npos) << literal.out;
  EXPECT_EQ(literal.out.find(" 1,"), std::string::npos) << literal.out;
}

TEST(CliTokenize, ModelWithoutTokenizerIsInputError) {
  const std::string path = std::string(POCKETLLM_TEST_DATA_DIR) + "/tokenizer/no-such-model.gguf";
  const RunResult run = run_pocketllm("tokenize -m " + path + " hello");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("no-such-model.gguf"), std::string::npos) << run.err;
}

}  // namespace
