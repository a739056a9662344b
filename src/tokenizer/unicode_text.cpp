#include "tokenizer/unicode_text.h"

#include <utf8proc.h>

#include <array>

namespace pocketllm::unicode {

size_t sequence_length(uint8_t lead) {
  static constexpr std::array<uint8_t, 16> kLengths = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

namespace {

bool is_continuation(std::string_view text, size_t i) {
  return i < text.size() && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80;
}

uint32_t byte_at(std::string_view text, size_t i) { return static_cast<uint8_t>(text[i]); }

}  // namespace

uint32_t decode_one(std::string_view text, size_t& pos) {
  const uint32_t lead = byte_at(text, pos);
  if (lead < 0x80) {
    pos += 1;
    return lead;
  }
  size_t length = 0;
  uint32_t cp = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    pos += 1;  // a stray continuation byte or 0xF8..0xFF
    return kReplacementChar;
  }
  for (size_t i = 1; i < length; ++i) {
    if (!is_continuation(text, pos + i)) {
      pos += 1;
      return kReplacementChar;
    }
    cp = (cp << 6) | (byte_at(text, pos + i) & 0x3F);
  }
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    pos += 1;
    return kReplacementChar;
  }
  pos += length;
  return cp;
}

void decode(std::string_view text, std::vector<uint32_t>& out) {
  size_t pos = 0;
  while (pos < text.size()) out.push_back(decode_one(text, pos));
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t incomplete_suffix_length(std::string_view text) {
  // Walk back over at most 3 continuation bytes to the lead byte.
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto byte = static_cast<uint8_t>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation: keep looking
    if (byte < 0x80) return 0;
    const size_t needed = sequence_length(byte);
    // A lead byte of a longer sequence than what follows it: incomplete.
    return (byte >= 0xC0 && needed > back) ? back : 0;
  }
  return 0;
}

namespace {

utf8proc_category_t category(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

}  // namespace

bool is_whitespace(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_control(uint32_t cp) {
  if (is_whitespace(cp)) return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(uint32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_symbol(uint32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return true;
    default:
      return false;
  }
}

bool is_accent_mark(uint32_t cp) {
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      return true;
    default:
      return false;
  }
}

bool is_cjk_ideograph(uint32_t cp) {
  // The ranges of BERT's _is_chinese_char (including its 0x2B920 quirk).
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

uint32_t to_lower(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

uint32_t decomposition_base(uint32_t cp) {
  std::array<utf8proc_int32_t, 8> buffer{};
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), buffer.data(), static_cast<utf8proc_ssize_t>(buffer.size()),
      UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0) return cp;
  return static_cast<uint32_t>(buffer[0]);
}

namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100 upwards in byte order.
struct ByteTable {
  std::array<std::string, 256> utf8;
  std::array<int, 324> byte_of{};  // code points 0..323 cover the whole table

  ByteTable() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? b : next++;
      append_utf8(utf8[b], cp);
      byte_of[cp] = static_cast<int>(b);
    }
  }
};

const ByteTable& byte_table() {
  static const ByteTable table;
  return table;
}

}  // namespace

std::string_view byte_to_char(uint8_t byte) { return byte_table().utf8[byte]; }

int char_to_byte(uint32_t cp) {
  const ByteTable& table = byte_table();
  return cp < table.byte_of.size() ? table.byte_of[cp] : -1;
}

}  // namespace pocketllm::unicode

namespace pocketllm::unicode {

namespace {

// Length of the well-formed sequence starting at `pos` (0 when ill-formed);
// `valid_prefix` receives how many bytes form a valid but unfinished start.
size_t well_formed_length(std::string_view text, size_t pos, size_t& valid_prefix) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  valid_prefix = 1;
  if (lead < 0x80) return 1;
  size_t needed = 0;
  uint8_t lower = 0x80;
  uint8_t upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 2;
    if (lead == 0xE0) lower = 0xA0;
    if (lead == 0xED) upper = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 3;
    if (lead == 0xF0) lower = 0x90;
    if (lead == 0xF4) upper = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= needed; ++k) {
    if (pos + k >= text.size()) return 0;
    const auto byte = static_cast<uint8_t>(text[pos + k]);
    if (byte < lower || byte > upper) return 0;
    lower = 0x80;
    upper = 0xBF;
    valid_prefix = k + 1;
  }
  return needed + 1;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  size_t pos = 0;
  size_t prefix = 0;
  while (pos < bytes.size()) {
    if (static_cast<uint8_t>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = well_formed_length(bytes, pos, prefix);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  size_t prefix = 0;
  while (pos < bytes.size()) {
    const size_t n = well_formed_length(bytes, pos, prefix);
    if (n > 0) {
      out.append(bytes.substr(pos, n));
      pos += n;
    } else {
      out += "\xEF\xBF\xBD";
      pos += prefix;
    }
  }
  return out;
}

}  // namespace pocketllm::unicode
