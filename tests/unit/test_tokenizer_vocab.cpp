// Tokenizers from GGUF vocabularies against llama.cpp's own tokenizer tests
// (tests/data/tokenizer/llama-cpp-vocab, see its SOURCES.md): every case of
// each .inp file must encode to the ids on the matching .out line, as
// llama.cpp's test-tokenizer-0 checks them (add_special = false,
// parse_special = false). Plus decoding: round trips, streaming that never
// splits a character, and llama.cpp's special-token rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace pocketllm {
namespace {

std::string vocab_path(const std::string& name) {
  return std::string(POCKETLLM_TEST_DATA_DIR) + "/tokenizer/llama-cpp-vocab/ggml-vocab-" + name + ".gguf";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

// test-tokenizer-0's reading: inputs separated by "\n__ggml_vocab_test__\n",
// one line of space-separated ids per input.
std::vector<Case> read_cases(const std::string& name) {
  const std::string raw = read_file(vocab_path(name) + ".inp");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(separator, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + separator.size();
  }
  std::istringstream out(read_file(vocab_path(name) + ".out"));
  std::vector<Case> cases;
  std::string line;
  for (size_t i = 0; std::getline(out, line); ++i) {
    Case c;
    if (i < inputs.size()) c.text = inputs[i];
    std::istringstream ids(line);
    for (TokenId id = 0; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), inputs.size()) << name;
  return cases;
}

struct Loaded {
  GgufFile file;
  Tokenizer tokenizer;
};

Loaded load(const std::string& name) {
  GgufFile file = GgufFile::open(vocab_path(name));
  Tokenizer tokenizer = Tokenizer::from_gguf(file);
  return {std::move(file), std::move(tokenizer)};
}

class LlamaCppVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppVocab, EncodesEveryCaseLikeLlamaCpp) {
  const Loaded loaded = load(GetParam());
  const std::vector<Case> cases = read_cases(GetParam());
  ASSERT_EQ(cases.size(), 46U);  // SOURCES.md: 46 strings per file
  size_t matched = 0;
  for (const Case& c : cases) {
    const std::vector<TokenId> ids = loaded.tokenizer.encode(c.text, false, false);
    EXPECT_EQ(ids, c.ids) << GetParam() << ": '" << c.text << "'";
    if (ids == c.ids) ++matched;
  }
  EXPECT_EQ(matched, cases.size());
}

// Byte-level BPE and SentencePiece with byte fallback lose nothing: the
// streamed pieces give back the text, every chunk is whole UTF-8, and
// (without space clean-up) they equal decode().
TEST_P(LlamaCppVocab, StreamedPiecesRoundTrip) {
  const Loaded loaded = load(GetParam());
  if (loaded.tokenizer.vocab().kind() == VocabKind::Wpm) GTEST_SKIP() << "WordPiece lowercases: lossy";
  for (const Case& c : read_cases(GetParam())) {
    const std::vector<TokenId> ids = loaded.tokenizer.encode(c.text, false, false);
    StreamDecoder stream(loaded.tokenizer, false, true);
    std::string joined;
    for (TokenId id : ids) {
      const std::string chunk = stream.push(id);
      EXPECT_EQ(to_valid_utf8(chunk), chunk) << "chunk splits a character in '" << c.text << "'";
      joined += chunk;
    }
    joined += stream.finish();
    EXPECT_EQ(joined, c.text) << GetParam();
    if (!loaded.tokenizer.vocab().clean_spaces) {
      EXPECT_EQ(loaded.tokenizer.decode(ids), c.text) << GetParam();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllVocabsWithTests, LlamaCppVocab,
                         ::testing::Values("bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                           "llama-spm", "mpt", "phi-3", "refact", "starcoder"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

// The two vocabularies without tests still load, with their metadata's rules.
TEST(LlamaCppVocabFiles, BaichuanAndGptNeoxLoad) {
  const Loaded baichuan = load("baichuan");
  EXPECT_EQ(baichuan.tokenizer.vocab().kind(), VocabKind::Spm);
  EXPECT_EQ(baichuan.tokenizer.vocab().n_tokens(), 64000);
  const Loaded neox = load("gpt-neox");
  EXPECT_EQ(neox.tokenizer.vocab().kind(), VocabKind::Bpe);
  EXPECT_EQ(neox.tokenizer.vocab().n_tokens(), 50432);
  EXPECT_FALSE(neox.tokenizer.encode("Hello world", false, false).empty());
}

// Llama 2 (llama-spm): "<s>" is the control token 1 only when special text is
// parsed; BOS is added per the model (add_bos default true for SPM).
TEST(SpecialTokens, ControlTextParsedOnlyWhenAllowed) {
  const Loaded loaded = load("llama-spm");
  const Tokenizer& tok = loaded.tokenizer;
  EXPECT_EQ(tok.vocab().bos, 1);
  EXPECT_EQ(tok.vocab().eos, 2);
  EXPECT_EQ(tok.encode("Hello", true, false), (std::vector<TokenId>{1, 15043}));
  EXPECT_EQ(tok.encode("<s>", false, true), (std::vector<TokenId>{1}));
  const std::vector<TokenId> literal = tok.encode("<s>", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
  EXPECT_EQ(tok.decode(literal), "<s>");
  // After a special token SPM adds the space prefix again: "▁Hello" = 15043.
  EXPECT_EQ(tok.encode("</s>Hello", false, true), (std::vector<TokenId>{2, 15043}));
  // Control pieces render only when asked; remove_special drops the added BOS.
  EXPECT_EQ(tok.decode(std::vector<TokenId>{1, 15043}, true, false), " Hello");
  EXPECT_EQ(tok.decode(std::vector<TokenId>{1, 15043}, false, true), "<s> Hello");
}

// GPT-2 applies clean_up_tokenization_spaces on decode ("Hello ," -> "Hello,").
TEST(Decode, CleanUpSpacesForGpt2) {
  const Loaded loaded = load("gpt-2");
  const Tokenizer& tok = loaded.tokenizer;
  const std::vector<TokenId> ids = tok.encode("Hello , I 'm here .", false, false);
  EXPECT_EQ(tok.decode(ids), "Hello, I'm here.");
}

// llama-spm has no token for "🦙" (U+1F999): it is four <0xXX> byte tokens
// (ids 243 162 169 156 = 0xF0 0x9F 0xA6 0x99 + 3, see the .out file); the
// stream holds the bytes back until the character is whole.
TEST(StreamDecoder, HoldsByteFallbackUntilCharacterIsWhole) {
  const Loaded loaded = load("llama-spm");
  StreamDecoder stream(loaded.tokenizer);
  EXPECT_EQ(stream.push(243), "");
  EXPECT_EQ(stream.push(162), "");
  EXPECT_EQ(stream.push(169), "");
  EXPECT_EQ(stream.push(156), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(stream.push(29889), ".");  // "."
  EXPECT_EQ(stream.finish(), "");
}

TEST(StreamDecoder, CjkFromByteTokensAndBrokenSequences) {
  const Loaded loaded = load("llama-spm");
  const Vocab& vocab = loaded.tokenizer.vocab();
  const std::string cjk = "\xE9\x91\xAB";  // 鑫 (U+946B)
  ASSERT_EQ(vocab.find(cjk), kNoToken);
  StreamDecoder stream(loaded.tokenizer);
  EXPECT_EQ(stream.push(vocab.byte_token(0xE9)), "");
  EXPECT_EQ(stream.push(vocab.byte_token(0x91)), "");
  EXPECT_EQ(stream.push(vocab.byte_token(0xAB)), cjk);
  // A lead byte followed by a non-continuation: U+FFFD, then the letter.
  EXPECT_EQ(stream.push(vocab.byte_token(0xE9)), "");
  EXPECT_EQ(stream.push(vocab.byte_token('A')), "\xEF\xBF\xBD" "A");
  // An unfinished character at the end becomes U+FFFD.
  EXPECT_EQ(stream.push(vocab.byte_token(0xF0)), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

// GPT-2 byte-level BPE splits the emoji 😁 (F0 9F 98 81) into two pieces
// (.out: 30325 ' \xF0\x9F\x98' and 223 '\x81'): the first chunk holds the
// partial character back.
TEST(StreamDecoder, ByteLevelBpePiecesJoinIntoOneCharacter) {
  const Loaded loaded = load("gpt-2");
  const std::vector<TokenId> ids = loaded.tokenizer.encode(" \xF0\x9F\x98\x81", false, false);
  ASSERT_EQ(ids, (std::vector<TokenId>{30325, 223}));
  StreamDecoder stream(loaded.tokenizer);
  EXPECT_EQ(stream.push(30325), " ");
  EXPECT_EQ(stream.push(223), "\xF0\x9F\x98\x81");
}

// Malformed vocabularies are InputErrors naming the problem.
TEST(VocabErrors, MissingModelAndUnknownPreTokenizer) {
  const std::string dir = ::testing::TempDir();
  {
    GgufWriter writer;
    writer.add("general.architecture", GgufValue::make_string("llama"));
    writer.write(dir + "no_tokenizer.gguf");
    const GgufFile file = GgufFile::open(dir + "no_tokenizer.gguf");
    EXPECT_THROW(Vocab::from_gguf(file), InputError);
  }
  {
    GgufWriter writer;
    writer.add("tokenizer.ggml.model", GgufValue::make_string("gpt2"));
    writer.add("tokenizer.ggml.pre", GgufValue::make_string("no-such-pre"));
    std::vector<GgufValue> tokens = {GgufValue::make_string("a"), GgufValue::make_string("b")};
    writer.add("tokenizer.ggml.tokens", GgufValue::make_array(GgufValueType::STRING, tokens));
    writer.add("tokenizer.ggml.merges", GgufValue::make_array(GgufValueType::STRING, {GgufValue::make_string("a b")}));
    writer.write(dir + "bad_pre.gguf");
    const GgufFile file = GgufFile::open(dir + "bad_pre.gguf");
    try {
      Vocab::from_gguf(file);
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos) << e.what();
    }
  }
  {
    GgufWriter writer;
    writer.add("tokenizer.ggml.model", GgufValue::make_string("llama"));
    std::vector<GgufValue> tokens = {GgufValue::make_string("a"), GgufValue::make_string("a")};
    writer.add("tokenizer.ggml.tokens", GgufValue::make_array(GgufValueType::STRING, tokens));
    writer.write(dir + "duplicate.gguf");
    const GgufFile file = GgufFile::open(dir + "duplicate.gguf");
    EXPECT_THROW(Vocab::from_gguf(file), InputError);
  }
}

}  // namespace
}  // namespace pocketllm
