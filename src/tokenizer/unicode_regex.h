#pragma once
// One compiled regex over code points (PCRE2, 32-bit code units, UTF + UCP:
// real Unicode categories), for the Hugging Face Split pre-tokenizer and
// normalizers, which need the match positions themselves, not only the cuts
// PreTokenizer makes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace pocketllm {

class UnicodeRegex {
 public:
  // InputError when the pattern does not compile.
  explicit UnicodeRegex(std::string_view pattern_utf8);
  // A regex that matches `literal` exactly.
  static UnicodeRegex literal(std::string_view literal_utf8);
  ~UnicodeRegex();
  UnicodeRegex(UnicodeRegex&&) noexcept;
  UnicodeRegex& operator=(UnicodeRegex&&) noexcept;
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // Non-empty, non-overlapping matches, left to right, as [begin, end)
  // code point offsets (an empty match cuts nothing: the search goes on one
  // code point later, as JavaScript's matchAll). Thread-safe.
  void find_all(std::span<const uint32_t> text, std::vector<std::pair<size_t, size_t>>& matches) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace pocketllm
