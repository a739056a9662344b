#pragma once
// Template text -> tokens, as the reference renderer (@huggingface/jinja,
// used by transformers.js) tokenizes chat templates:
//   1. preprocessing: one trailing "\n" dropped; lstrip_blocks (spaces and
//      tabs before `{%`, `{#` at a line start removed) and trim_blocks (the
//      "\n" after `%}`, `#}` removed) always on, as transformers renders chat
//      templates; `{% generation %}` / `{% endgeneration %}` markers removed;
//   2. tokens: text, `{{ }}` / `{% %}` delimiters with `-` whitespace control,
//      comments, literals, identifiers, operators.
// `{% raw %}...{% endraw %}` (which the reference lacks) becomes one text token.
// Every token keeps its offset in the preprocessed text; SourceText maps it
// back to the line and column of the original template for error messages.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::jinja {

enum class TokenType : uint8_t {
  Text, NumericLiteral, StringLiteral, Identifier, Equals, OpenParen, CloseParen,
  OpenStatement, CloseStatement, OpenExpression, CloseExpression, OpenSquareBracket,
  CloseSquareBracket, OpenCurlyBracket, CloseCurlyBracket, Comma, Dot, Colon, Pipe,
  AdditiveOperator, MultiplicativeOperator, PowerOperator, ComparisonOperator,
  UnaryOperator, Comment,
};

struct Token {
  TokenType type;
  std::string value;  // text, literal contents (escapes resolved), operator, name
  uint32_t pos;       // offset in SourceText::text
};

// The preprocessed template and, per byte, its offset in the original.
struct SourceText {
  std::string name;        // what error messages call the template
  std::string original;
  std::string text;
  std::vector<uint32_t> origin;  // origin.size() == text.size() + 1

  // "NAME line L column C" of a preprocessed offset.
  std::string locate(uint32_t pos) const;
};

// Preprocesses `original`. Throws InputError when it is not UTF-8.
SourceText preprocess_template(std::string_view original, std::string name);
// Tokenizes source.text. Throws InputError naming the line on a bad character,
// an unterminated string or comment, or a bad escape.
std::vector<Token> tokenize_template(const SourceText& source);

}  // namespace pocketllm::jinja
