#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/hf_component.h"

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/hf_pipeline.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace pocketllm {

namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

TokenId token_by_text(const Vocab& vocab, const nlohmann::json& text, const char* what) {
  if (!text.is_string()) throw InputError(std::string("tokenizer.json: post_processor ") + what + " is not a string");
  const TokenId id = vocab.find(text.get<std::string>());
  if (id == kNoToken) {
    throw InputError(std::string("tokenizer.json: post_processor ") + what + " '" + text.get<std::string>() +
                     "' is not a token");
  }
  return id;
}

// Adds what the post-processor puts around a single sequence to
// prefix/suffix (a Sequence wraps each processor's output in the next one).
void read_post_processor(const nlohmann::json& config, const Vocab& vocab, std::vector<TokenId>& prefix,
                         std::vector<TokenId>& suffix) {
  if (config.is_null()) return;
  const std::string type = hf_component_type(config, "post_processor");
  if (type == "Sequence") {
    for (const auto& item : config.value("processors", nlohmann::json::array())) {
      read_post_processor(item, vocab, prefix, suffix);
    }
  } else if (type == "ByteLevel") {
    // Offsets only.
  } else if (type == "TemplateProcessing") {
    const nlohmann::json single = config.value("single", nlohmann::json::array());
    std::vector<TokenId> before;
    std::vector<TokenId> after;
    bool seen_sequence = false;
    for (const auto& item : single) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id")) {
        (seen_sequence ? after : before).push_back(token_by_text(vocab, item["SpecialToken"]["id"], "special token"));
      } else {
        throw InputError("tokenizer.json: TemplateProcessing item is neither SpecialToken nor Sequence");
      }
    }
    prefix.insert(prefix.begin(), before.begin(), before.end());
    suffix.insert(suffix.end(), after.begin(), after.end());
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    const nlohmann::json cls = config.value("cls", nlohmann::json());
    const nlohmann::json sep = config.value("sep", nlohmann::json());
    if (!cls.is_array() || cls.empty() || !sep.is_array() || sep.empty()) {
      throw InputError("tokenizer.json: " + type + " without cls and sep");
    }
    prefix.insert(prefix.begin(), token_by_text(vocab, cls[0], "cls"));
    suffix.push_back(token_by_text(vocab, sep[0], "sep"));
  } else {
    throw InputError("tokenizer.json: unsupported post_processor type '" + type + "'");
  }
}

}  // namespace

bool has_hf_tokenizer(const std::filesystem::path& dir) { return std::filesystem::is_regular_file(dir / "tokenizer.json"); }

Tokenizer Tokenizer::from_hf_dir(const std::string& dir) {
  const std::filesystem::path folder(dir);
  const std::filesystem::path tokenizer_path = folder / "tokenizer.json";
  if (!std::filesystem::is_regular_file(tokenizer_path)) throw InputError(dir + ": no tokenizer.json");
  const std::filesystem::path config_path = folder / "tokenizer_config.json";
  const nlohmann::json config = std::filesystem::is_regular_file(config_path) ? read_json(config_path) : nlohmann::json();
  try {
    return from_hf_json(read_json(tokenizer_path), config);
  } catch (const InputError& e) {
    throw InputError(dir + ": " + e.what());
  }
}

Tokenizer Tokenizer::from_hf_json(const nlohmann::json& tokenizer, const nlohmann::json& config) {
  Vocab vocab = Vocab::from_hf_json(tokenizer, config);
  auto hf = std::make_shared<HfPipeline>();
  const nlohmann::json& model = tokenizer["model"];
  const nlohmann::json normalizer_config = tokenizer.value("normalizer", nlohmann::json());
  hf->normalizer = HfNormalizer(normalizer_config);
  hf->pre_tokenizer = HfPreTokenizer(tokenizer.value("pre_tokenizer", nlohmann::json()));
  hf->decoder = HfDecoder(tokenizer.value("decoder", nlohmann::json()));

  hf->byte_level = hf->pre_tokenizer.byte_level();
  hf->byte_fallback = model.value("byte_fallback", false);
  hf->fuse_unk = model.value("fuse_unk", false);
  hf->ignore_merges = model.value("ignore_merges", false);
  hf->unk = vocab.unk;
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      throw InputError(std::string("tokenizer.json: unsupported BPE option '") + key + "'");
    }
  }
  if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0.0) {
    throw InputError("tokenizer.json: BPE dropout is not supported");
  }
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  for (size_t b = 0; b < 256; ++b) {
    const std::string name = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    hf->byte_tokens[b] = vocab.find(name);
  }

  // Added tokens (tokenizers.js: normalized defaults to !special; a token is
  // matched after normalization only when there is a normalizer).
  for (const auto& entry : tokenizer.value("added_tokens", nlohmann::json::array())) {
    const std::string content = entry["content"];
    const bool special = entry.value("special", false);
    const HfAddedTokens::Entry added{static_cast<TokenId>(entry["id"].get<int64_t>()), special,
                                     entry.value("lstrip", false), entry.value("rstrip", false)};
    hf->exact.insert_or_assign(content, added);
    hf->added_contents.insert(content);
    const bool normalized = entry.contains("normalized") && entry["normalized"].is_boolean()
                                ? entry["normalized"].get<bool>()
                                : !special;
    if (normalized && !normalizer_config.is_null()) {
      const std::string normalized_content = hf->normalizer.normalize(content);
      hf->normalized_added.add(normalized_content, added);
      hf->exact.insert_or_assign(normalized_content, added);
    } else {
      hf->raw_added.add(content, added);
    }
  }

  read_post_processor(tokenizer.value("post_processor", nlohmann::json()), vocab, hf->prefix, hf->suffix);
  if (hf->prefix.size() == 1) {
    vocab.add_bos = true;
    vocab.bos = hf->prefix[0];
  }
  if (hf->suffix.size() == 1) {
    vocab.add_eos = true;
    if (vocab.eos == kNoToken) vocab.eos = hf->suffix[0];
  }
  hf->clean_up_tokenization_spaces = vocab.clean_spaces;
  vocab.add_space_prefix = hf->decoder.strips_leading_space();
  if (config.is_object() && (config.value("remove_space", false) || config.value("do_lowercase_and_remove_accent", false))) {
    throw InputError("tokenizer_config.json: remove_space / do_lowercase_and_remove_accent are not supported");
  }
  if (config.is_object() && config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array()) {
    for (const auto& text : config["additional_special_tokens"]) {
      if (text.is_string()) hf->extra_special.insert(text.get<std::string>());
    }
  }
  return Tokenizer(std::move(vocab), std::move(hf));
}

}  // namespace pocketllm
