#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>

#include "formats/gguf.h"
#include "util/error.h"

namespace pocketllm {

namespace {

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
uint32_t attrs_from_gguf_type(int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

// Texts of end-of-generation tokens; llama.cpp marks these control tokens
// whatever the file says, so they are never matched in text by accident.
constexpr std::array<std::string_view, 22> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~["};

// Fill-in-the-middle tokens, likewise made control tokens.
constexpr std::array<std::string_view, 34> kFimTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>",
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
    "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>",
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>",
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<|file_sep|>"};

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

TokenId Vocab::find(std::string_view text) const {
  const auto it = symbols_.find(text);
  return (it != symbols_.end() && it->second < n_tokens()) ? it->second : kNoToken;
}

int32_t Vocab::find_symbol(std::string_view text) const {
  const auto it = symbols_.find(text);
  return it != symbols_.end() ? it->second : -1;
}

std::string_view Vocab::symbol_text(int32_t symbol) const {
  if (symbol < n_tokens()) return tokens_[static_cast<size_t>(symbol)].text;
  return extra_symbol_views_[static_cast<size_t>(symbol - n_tokens())];
}

const BpeMerge* Vocab::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  const auto it = merges_.find(key);
  return it != merges_.end() ? &it->second : nullptr;
}

TokenId Vocab::byte_token(uint8_t byte) const {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  const std::array<char, 6> name = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  const TokenId id = find(std::string_view(name.data(), name.size()));
  if (id != kNoToken) return id;
  const char raw = static_cast<char>(byte);
  return find(std::string_view(&raw, 1));
}

uint8_t Vocab::token_byte(TokenId id) const {
  const std::string_view text = token(id).text;  // "<0xXX>"
  auto hex = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
    return 0;
  };
  if (text.size() != 6) return 0;
  return static_cast<uint8_t>((hex(text[3]) << 4) | hex(text[4]));
}

bool Vocab::is_end_of_generation(TokenId id) const {
  return std::find(end_of_generation.begin(), end_of_generation.end(), id) != end_of_generation.end();
}

int32_t Vocab::intern(std::string_view text) {
  const auto it = symbols_.find(text);
  if (it != symbols_.end()) return it->second;
  const std::string& stored = extra_symbols_.emplace_back(text);
  const auto id = static_cast<int32_t>(tokens_.size() + extra_symbol_views_.size());
  extra_symbol_views_.push_back(stored);
  symbols_.emplace(stored, id);
  return id;
}

Vocab Vocab::from_gguf(const GgufFile& file) {
  Vocab vocab;
  const std::optional<std::string_view> model = file.get_string("tokenizer.ggml.model");
  if (!model) throw InputError(file.name() + ": no tokenizer (key 'tokenizer.ggml.model' is missing)");
  vocab.model_name_ = std::string(*model);
  vocab.pre_name_ = std::string(file.get_string("tokenizer.ggml.pre").value_or(""));

  // Defaults per tokenizer model (llama.cpp), before the file's own keys.
  if (*model == "llama") {
    vocab.kind_ = VocabKind::Spm;
    vocab.bos = 1;
    vocab.eos = 2;
    vocab.unk = 0;
    vocab.add_space_prefix = true;
    vocab.add_bos = true;
  } else if (*model == "gpt2") {
    vocab.kind_ = VocabKind::Bpe;
    vocab.bos = 11;
    vocab.eos = 11;
    vocab.pre_spec_ = pre_tokenizer_spec(vocab.pre_name_);
    vocab.clean_spaces = vocab.pre_spec_.clean_spaces;
    vocab.add_bos = vocab.pre_spec_.add_bos;
    if (!vocab.pre_spec_.has_bos) vocab.bos = kNoToken;
  } else if (*model == "bert") {
    vocab.kind_ = VocabKind::Wpm;
    vocab.bos = 101;
    vocab.unk = 100;
    vocab.sep = 102;
    vocab.pad = 0;
    vocab.mask = 103;
    vocab.add_bos = true;
    vocab.add_sep = true;
    vocab.clean_spaces = true;
  } else {
    throw InputError(file.name() + ": key 'tokenizer.ggml.model': unsupported tokenizer '" + std::string(*model) + "'");
  }
  vocab.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix").value_or(vocab.add_space_prefix);

  // Tokens, scores, types.
  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type() != GgufValueType::ARRAY || tokens->array_type() != GgufValueType::STRING) {
    throw InputError(file.name() + ": key 'tokenizer.ggml.tokens' is missing or not an array of strings");
  }
  const size_t n = tokens->array().size();
  if (n == 0 || n > 0x7FFFFFF0u) throw InputError(file.name() + ": key 'tokenizer.ggml.tokens': bad token count");
  const std::optional<std::vector<double>> scores = file.get_float_array("tokenizer.ggml.scores");
  if (scores && scores->size() < n) throw InputError(file.name() + ": key 'tokenizer.ggml.scores': fewer scores than tokens");
  const std::optional<std::vector<int64_t>> types = file.get_int_array("tokenizer.ggml.token_type");
  if (types && types->size() < n) throw InputError(file.name() + ": key 'tokenizer.ggml.token_type': fewer types than tokens");

  vocab.token_texts_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view text = tokens->array()[i].as_string().value_or("");
    // llama.cpp renames empty tokens so that every text is unique and non-empty.
    vocab.token_texts_.emplace_back(text.empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(text));
  }
  vocab.tokens_.resize(n);
  vocab.symbols_.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    TokenInfo& info = vocab.tokens_[i];
    info.text = vocab.token_texts_[i];
    info.score = scores ? static_cast<float>((*scores)[i]) : 0.0f;
    info.attrs = types ? attrs_from_gguf_type((*types)[i]) : kAttrNormal;
    if (!vocab.symbols_.emplace(info.text, static_cast<int32_t>(i)).second) {
      throw InputError(file.name() + ": key 'tokenizer.ggml.tokens': duplicate token '" + std::string(info.text) + "'");
    }
    vocab.max_token_length_ = std::max(vocab.max_token_length_, info.text.size());
  }

  if (vocab.kind_ == VocabKind::Bpe) {
    const std::optional<std::vector<std::string_view>> merges = file.get_string_array("tokenizer.ggml.merges");
    if (!merges) throw InputError(file.name() + ": key 'tokenizer.ggml.merges' is missing");
    vocab.merges_.reserve(merges->size());
    for (size_t rank = 0; rank < merges->size(); ++rank) {
      const std::string_view merge = (*merges)[rank];
      const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
      if (space == std::string_view::npos) continue;  // llama.cpp keeps ("", "") pairs, which never apply
      const std::string_view left = merge.substr(0, space);
      const std::string_view right = merge.substr(space + 1);
      const int32_t left_id = vocab.intern(left);
      const int32_t right_id = vocab.intern(right);
      const int32_t result = vocab.intern(std::string(left) + std::string(right));
      const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left_id)) << 32) | static_cast<uint32_t>(right_id);
      vocab.merges_.emplace(key, BpeMerge{static_cast<int32_t>(rank), result});  // the first rank wins
    }
  }

  // Special-token ids: defaults out of range are dropped; keys in range win.
  auto read_id = [&](std::string_view key, TokenId& id) {
    if (id >= static_cast<TokenId>(n)) id = kNoToken;
    const std::optional<uint64_t> value = file.get_uint(key);
    if (value && *value < n) id = static_cast<TokenId>(*value);
  };
  read_id("tokenizer.ggml.bos_token_id", vocab.bos);
  read_id("tokenizer.ggml.eos_token_id", vocab.eos);
  read_id("tokenizer.ggml.eot_token_id", vocab.eot);
  read_id("tokenizer.ggml.unknown_token_id", vocab.unk);
  read_id("tokenizer.ggml.seperator_token_id", vocab.sep);
  read_id("tokenizer.ggml.padding_token_id", vocab.pad);
  read_id("tokenizer.ggml.mask_token_id", vocab.mask);
  vocab.add_bos = file.get_bool("tokenizer.ggml.add_bos_token").value_or(vocab.add_bos);
  vocab.add_eos = file.get_bool("tokenizer.ggml.add_eos_token").value_or(vocab.add_eos);
  vocab.add_sep = file.get_bool("tokenizer.ggml.add_sep_token").value_or(vocab.add_sep);
  if (vocab.add_bos && vocab.bos == kNoToken) throw InputError(file.name() + ": add_bos_token is true but the model has no BOS token");
  if (vocab.add_eos && vocab.eos == kNoToken) throw InputError(file.name() + ": add_eos_token is true but the model has no EOS token");
  vocab.lowercase = file.get_bool("tokenizer.ggml.normalizer.lowercase").value_or(true);
  vocab.strip_accents = file.get_bool("tokenizer.ggml.normalizer.strip_accents").value_or(vocab.lowercase);

  // llama.cpp's fix-ups by token text.
  for (std::string_view text : kFimTexts) {
    const TokenId id = vocab.find(text);
    if (id != kNoToken) vocab.tokens_[static_cast<size_t>(id)].attrs |= kAttrControl;
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    const TokenId id = vocab.find(text);
    if (id == kNoToken) continue;
    vocab.tokens_[static_cast<size_t>(id)].attrs |= kAttrControl;
    vocab.end_of_generation.push_back(id);
  }
  if (vocab.eot == kNoToken) {
    for (std::string_view text : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"}) {
      if ((vocab.eot = vocab.find(text)) != kNoToken) break;
    }
  }
  // gpt-oss (o200k_harmony): these structure tokens are always rendered and
  // matched in text; <|end|> is not end-of-generation when <|return|> and
  // <|call|> exist.
  for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const TokenId id = vocab.find(text);
    if (id != kNoToken) vocab.tokens_[static_cast<size_t>(id)].attrs = kAttrUserDefined;
  }
  const TokenId end_id = vocab.find("<|end|>");
  if (end_id != kNoToken && ((vocab.find("<|return|>") != kNoToken && vocab.find("<|call|>") != kNoToken) ||
                             (vocab.find("<|calls|>") != kNoToken && vocab.find("<|flush|>") != kNoToken))) {
    vocab.tokens_[static_cast<size_t>(end_id)].attrs = kAttrUserDefined;
    std::erase(vocab.end_of_generation, end_id);
  }
  const TokenId eos_text_id = vocab.find("</s>");
  if (eos_text_id != kNoToken && vocab.find("<|tool_response>") != kNoToken) {
    vocab.tokens_[static_cast<size_t>(eos_text_id)].attrs = kAttrNormal;
    std::erase(vocab.end_of_generation, eos_text_id);
  }
  for (TokenId id : {vocab.eos, vocab.eot}) {
    if (id != kNoToken && !vocab.is_end_of_generation(id)) vocab.end_of_generation.push_back(id);
  }

  for (TokenId id = 0; id < vocab.n_tokens(); ++id) {
    if (vocab.token(id).attrs & (kAttrControl | kAttrUserDefined | kAttrUnknown)) vocab.special_tokens_.push_back(id);
  }
  std::stable_sort(vocab.special_tokens_.begin(), vocab.special_tokens_.end(), [&](TokenId a, TokenId b) {
    return vocab.token(a).text.size() > vocab.token(b).text.size();
  });

  // Phi-3 (by general.name, as llama.cpp): spaces after special tokens are
  // swallowed, except after <unk>, <s> and <|endoftext|>.
  const std::string general_name = lower_ascii(file.get_string("general.name").value_or(""));
  if (general_name.find("phi-3") != std::string::npos || general_name.find("phi3") != std::string::npos) {
    for (TokenId id : vocab.special_tokens_) vocab.tokens_[static_cast<size_t>(id)].attrs |= kAttrRStrip;
    if (eos_text_id != kNoToken) vocab.tokens_[static_cast<size_t>(eos_text_id)].attrs |= kAttrRStrip;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      const TokenId id = vocab.find(text);
      if (id != kNoToken) vocab.tokens_[static_cast<size_t>(id)].attrs &= ~kAttrRStrip;
    }
  }
  return vocab;
}

}  // namespace pocketllm
