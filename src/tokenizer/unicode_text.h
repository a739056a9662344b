#pragma once
// UTF-8 and Unicode helpers shared by the tokenizers. Decoding follows
// llama.cpp's tokenizer rules so that malformed text tokenizes the same way:
// a byte that does not start a well-formed sequence becomes U+FFFD and
// decoding resumes at the next byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the sequence that `lead` starts (1..4), from its high nibble,
// as SentencePiece splits text into characters (continuation bytes count 1).
size_t sequence_length(uint8_t lead);

// Decodes the code point at `pos` and advances `pos` past it. Surrogates and
// values above U+10FFFF are treated as malformed.
uint32_t decode_one(std::string_view text, size_t& pos);
// Appends the decoded code points of `text` to `out`.
void decode(std::string_view text, std::vector<uint32_t>& out);
void append_utf8(std::string& out, uint32_t cp);

// `bytes` as valid UTF-8, each maximal ill-formed subpart replaced by one
// U+FFFD (the WHATWG / TextDecoder and Python errors="replace" rule).
std::string replace_invalid_utf8(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Bytes at the end of `text` that form an incomplete (but so far valid)
// UTF-8 sequence: what a streaming decoder must hold back.
size_t incomplete_suffix_length(std::string_view text);

// Character classes for the WordPiece (BERT) normalizer, from utf8proc.
bool is_whitespace(uint32_t cp);    // Unicode White_Space (as tokenizers use it)
bool is_control(uint32_t cp);       // categories Cc, Cf, Co, Cs, Cn (but not whitespace)
bool is_punctuation(uint32_t cp);   // categories P*
bool is_symbol(uint32_t cp);        // categories S*
bool is_accent_mark(uint32_t cp);   // categories M*
bool is_cjk_ideograph(uint32_t cp); // the CJK blocks BERT isolates
uint32_t to_lower(uint32_t cp);
// The first code point of the canonical decomposition (the base letter of
// an accented character); the code point itself when it does not decompose.
uint32_t decomposition_base(uint32_t cp);

// GPT-2 byte-level BPE: every byte maps to one printable code point.
// byte_to_char(b) is that code point's UTF-8; char_to_byte is the inverse
// (-1 for code points that are not in the table).
std::string_view byte_to_char(uint8_t byte);
int char_to_byte(uint32_t cp);

}  // namespace pocketllm::unicode
