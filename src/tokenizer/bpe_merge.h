#pragma once
// The BPE merge loop shared by the GGUF (llama.cpp) and tokenizer.json
// (Hugging Face) paths: adjacent symbols are merged lowest merge rank first,
// ties to the leftmost, until no pair has a merge (llama.cpp's
// llm_tokenizer_bpe, tokenizers' BPE::merge_word and tokenizers.js agree on
// this order). Merging runs on Vocab symbol ids.
#include <cstdint>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketllm {

// One symbol of a word: bytes [start, end) of the word's text and its
// symbol id (-1: the text is in no token or merge).
struct BpeSymbolSpan {
  int32_t id;
  uint32_t start;
  uint32_t end;
};

// Merges `symbols` in place; on return it holds the final symbols in order.
// Scratch space is thread-local, so calls are thread-safe.
void bpe_merge(const Vocab& vocab, std::vector<BpeSymbolSpan>& symbols);

}  // namespace pocketllm
