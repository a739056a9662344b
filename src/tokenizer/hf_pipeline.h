#pragma once
// What a Hugging Face tokenizer.json adds to a Vocab: the steps that
// tokenizers.js (transformers.js) runs around the BPE model.
//   encode: added tokens cut out of the raw text (leftmost-longest) ->
//   each other piece normalized -> added tokens with normalized=true cut out
//   of the normalized text -> pre-tokenizer -> BPE per word (byte-level, or
//   on characters with byte fallback) -> post-processor tokens around it.
//   decode: token strings -> decoder chain -> clean_up_tokenization_spaces.
#include <array>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/hf_added_tokens.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace pocketllm {

struct HfPipeline {
  HfAddedTokens raw_added;         // added tokens matched in raw text
  HfAddedTokens normalized_added;  // normalized=true ones, by normalized content
  // Every added token by content and by normalized content: a piece of text
  // that is exactly one of these becomes that token (as tokenizers.js).
  std::unordered_map<std::string, HfAddedTokens::Entry> exact;
  std::unordered_set<std::string> added_contents;  // for the ByteLevel decoder
  HfNormalizer normalizer;
  HfPreTokenizer pre_tokenizer;
  HfDecoder decoder;

  // BPE model options.
  bool byte_level = false;     // words are bytes mapped to GPT-2 characters
  bool byte_fallback = false;  // an unknown piece becomes its <0xXX> tokens
  bool fuse_unk = false;       // consecutive unknown pieces give one unk token
  bool ignore_merges = false;  // a word that is a whole token skips the merges
  TokenId unk = kNoToken;
  std::array<TokenId, 256> byte_tokens{};  // <0xXX> ids (kNoToken when absent)

  // Post-processor: ids around the text when special tokens are added.
  std::vector<TokenId> prefix;
  std::vector<TokenId> suffix;
  bool clean_up_tokenization_spaces = true;
  // tokenizer_config.json additional_special_tokens: dropped by decode
  // without special tokens, as the special added tokens.
  std::unordered_set<std::string> extra_special;
};

}  // namespace pocketllm
