#pragma once
// Byte-level BPE pre-tokenization: the regexes that cut text into words
// before merges, chosen by GGUF `tokenizer.ggml.pre` (facts from llama.cpp's
// llama-vocab.cpp; where llama.cpp rewrote a tokenizer.json regex only
// because std::regex lacks \p{Lu} or (?i:), the original is used here).
//
// Several regexes apply in sequence, as in llama.cpp's unicode_regex_split:
// each one cuts every current piece into its matches and the text between
// matches, so nothing is dropped. Matching runs on code points with PCRE2
// (32-bit code units, UTF + UCP: real Unicode categories, \s = Unicode space).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm {

// What a `tokenizer.ggml.pre` name implies besides its regexes.
struct PreTokenizerSpec {
  std::vector<std::string> regexes;  // PCRE2 syntax, applied in order
  bool clean_spaces = true;          // decode removes " ," " ." " 's" ... (clean_up_tokenization_spaces)
  bool ignore_merges = false;        // a word that is a whole token skips the merges
  bool add_bos = false;              // default for tokenizer.ggml.add_bos_token
  bool has_bos = true;               // false: the model has no BOS (chatglm)
};

// Throws InputError for a name this build does not know.
PreTokenizerSpec pre_tokenizer_spec(std::string_view pre_name);

class PreTokenizer {
 public:
  PreTokenizer();
  explicit PreTokenizer(const std::vector<std::string>& regexes);  // InputError when one does not compile
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Cuts `text` (code points) into words; `lengths` receives each word's
  // length in code points, in order, summing to text.size(). Thread-safe.
  void split(std::span<const uint32_t> text, std::vector<size_t>& lengths) const;

 private:
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace pocketllm
