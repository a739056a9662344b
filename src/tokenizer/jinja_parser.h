#pragma once
// Tokens -> syntax tree, with the grammar and operator precedence of the
// reference renderer (@huggingface/jinja): `a if b else c` < or < and < not
// < comparisons and `in` (left to right, not chained) < + - ~ < * / // %
// < ** < `is` tests < `|` filters < unary sign < calls, `.` and `[ ]`.
// Statements: if/elif/else, for (with `if` filter and else), set (also
// block set and namespace attributes), macro, call blocks, filter blocks,
// break, continue. Errors are InputError naming the template line.
#include <vector>

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_lexer.h"

namespace pocketllm::jinja {

NodePtr parse_template(const std::vector<Token>& tokens, const SourceText& source);

}  // namespace pocketllm::jinja
