#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 32
#include <pcre2.h>

#include <array>

#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace pocketllm {

namespace {

// GPT-2's regex; several pre-tokenizers use it after a digit-splitting pass.
const char* const kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen35 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// o200k (gpt-4o, gpt-oss) as in its tokenizer.json.
const char* const kO200k =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kTekken =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kDeepseekV3 =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kBloom = " ?[^(\\s|.,!?…。，、।۔،)]+";

struct NamedSpec {
  std::vector<std::string_view> names;
  PreTokenizerSpec spec;
};

const std::vector<NamedSpec>& known_specs() {
  static const std::vector<NamedSpec> specs = {
      {{"", "default"},
       {{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}, true, false, false, true}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
       {{kLlama3}, true, true, true, true}},
      {{"dbrx", "smaug-bpe"}, {{kLlama3}, true, false, false, true}},
      {{"chatglm-bpe", "glm4"}, {{kLlama3}, true, false, false, false}},
      // Singletons that Unicode normalization would rewrite (U+1F7D, U+1FBE,
      // U+1FD3, U+1FDB, U+2126, U+212A) are escaped so the ranges survive.
      {{"deepseek-llm"},
       {{"[\\r\\n]",
         "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
         "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"},
        false, false, false, true}},
      {{"deepseek-coder"},
       {{"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}, false, false, false, true}},
      {{"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"},
       {{"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", kDeepseekV3}, false, false, false, true}},
      {{"falcon"}, {{"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}, true, false, false, true}},
      {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"},
       {{"\\p{N}", kGpt2}, true, false, false, true}},
      {{"command-r", "smollm"}, {{"\\p{N}", kGpt2}, false, false, false, true}},
      {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
        "modern-bert", "mpt", "olmo", "jais", "exaone4", "jina-v1-en", "jina-v2-code", "roberta-bpe"},
       {{kGpt2}, true, false, false, true}},
      {{"trillion", "granite-docling"}, {{kGpt2}, false, false, false, true}},
      {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"},
       {{kQwen2}, false, false, false, true}},
      {{"stablelm2", "megrez"}, {{kQwen2}, true, false, false, true}},
      {{"qwen35"}, {{kQwen35}, false, false, false, true}},
      {{"poro-chat"}, {{kBloom}, false, false, false, true}},
      {{"bloom", "gpt3-finnish"}, {{kBloom}, true, false, false, true}},
      {{"viking"}, {{kBloom, "\\p{N}"}, false, false, false, true}},
      {{"tekken"}, {{kTekken}, false, true, true, true}},
      {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, {{kO200k}, false, false, false, true}},
      {{"seed-coder"},
       {{"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
         "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
        false, false, false, true}},
      {{"bailingmoe", "bailingmoe2", "llada-moe"},
       {{"'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|"
         "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
        false, false, false, true}},
  };
  return specs;
}

std::vector<uint32_t> to_code_points(std::string_view utf8) {
  std::vector<uint32_t> cps;
  unicode::decode(utf8, cps);
  return cps;
}

}  // namespace

PreTokenizerSpec pre_tokenizer_spec(std::string_view pre_name) {
  for (const NamedSpec& named : known_specs()) {
    for (std::string_view name : named.names) {
      if (name == pre_name) return named.spec;
    }
  }
  throw InputError("unknown pre-tokenizer type '" + std::string(pre_name) + "' (tokenizer.ggml.pre)");
}

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes) {
  for (const std::string& pattern : regexes) {
    const std::vector<uint32_t> units = to_code_points(pattern);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto regex = std::make_unique<Regex>();
    regex->code = pcre2_compile(units.data(), units.size(), PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY,
                                &error, &error_offset, nullptr);
    if (regex->code == nullptr) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error, message.data(), message.size());
      std::string text;
      for (PCRE2_UCHAR c : message) {
        if (c == 0) break;
        unicode::append_utf8(text, c);
      }
      throw InputError("pre-tokenizer regex '" + pattern + "' at " + std::to_string(error_offset) + ": " + text);
    }
    // JIT is an optimisation: when it is unavailable the interpreter runs.
    pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
    regexes_.push_back(std::move(regex));
  }
}

void PreTokenizer::split(std::span<const uint32_t> text, std::vector<size_t>& lengths) const {
  lengths.clear();
  if (text.empty()) return;
  lengths.push_back(text.size());
  if (regexes_.empty()) return;

  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  std::vector<size_t> next;
  for (const auto& regex : regexes_) {
    next.clear();
    size_t start = 0;
    for (const size_t length : lengths) {
      const PCRE2_SPTR subject = text.data() + start;
      size_t done = 0;    // end of the last piece emitted, relative to start
      size_t offset = 0;  // where the next search begins
      while (offset <= length) {
        int rc = pcre2_match(regex->code, subject, length, offset, PCRE2_NO_UTF_CHECK, match, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          rc = pcre2_match(regex->code, subject, length, offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          pcre2_match_data_free(match);
          throw InputError("text too complex for the pre-tokenizer (PCRE2 error " + std::to_string(rc) + ")");
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t begin = ovector[0];
        const size_t end = ovector[1];
        if (end == begin) {  // an empty match cuts nothing; search on
          offset = end + 1;
          continue;
        }
        if (begin > done) next.push_back(begin - done);
        next.push_back(end - begin);
        done = end;
        offset = end;
      }
      if (done < length) next.push_back(length - done);
      start += length;
    }
    lengths.swap(next);
  }
  pcre2_match_data_free(match);
}

}  // namespace pocketllm
