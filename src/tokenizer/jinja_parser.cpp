#include "tokenizer/jinja_parser.h"

#include <fmt/format.h>

#include <cstdlib>
#include <initializer_list>
#include <set>
#include <string_view>
#include <utility>
#include <cerrno>

#include "util/error.h"

namespace pocketllm::jinja {
namespace {

// Nesting deeper than this (brackets, blocks) is refused: real templates
// nest a few levels, and the parser and evaluator recurse per level.
constexpr int kMaxNesting = 200;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const SourceText& source) : tokens_(tokens), source_(source) {}

  NodePtr program() {
    auto root = make(NodeKind::Program, 0);
    while (current_ < tokens_.size()) root->body.push_back(any());
    return root;
  }

 private:
  // Keeps the recursion depth; a guard per nested construct.
  struct DepthGuard {
    Parser& parser;
    explicit DepthGuard(Parser& p, size_t at) : parser(p) {
      if (++parser.depth_ > kMaxNesting) parser.fail(at, "the template nests too deeply");
    }
    ~DepthGuard() { --parser.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
  };

  [[noreturn]] void fail(size_t token_index, const std::string& message) const {
    const uint32_t pos = token_index < tokens_.size() ? tokens_[token_index].pos
                                                       : static_cast<uint32_t>(source_.text.size());
    throw InputError(fmt::format("{}: {}", source_.locate(pos), message));
  }

  NodePtr make(NodeKind kind, size_t token_index) const {
    const uint32_t pos = token_index < tokens_.size() ? tokens_[token_index].pos
                                                       : static_cast<uint32_t>(source_.text.size());
    return std::make_unique<Node>(kind, pos);
  }

  const Token& peek(size_t offset = 0) const {
    if (current_ + offset >= tokens_.size()) fail(current_ + offset, "unexpected end of template");
    return tokens_[current_ + offset];
  }
  bool at_end(size_t offset = 0) const { return current_ + offset >= tokens_.size(); }
  bool is(TokenType type, size_t offset = 0) const {
    return !at_end(offset) && tokens_[current_ + offset].type == type;
  }
  bool is_identifier(std::string_view name, size_t offset = 0) const {
    return is(TokenType::Identifier, offset) && tokens_[current_ + offset].value == name;
  }
  bool is_statement(std::initializer_list<std::string_view> names) const {
    if (!is(TokenType::OpenStatement) || !is(TokenType::Identifier, 1)) return false;
    for (std::string_view name : names) {
      if (tokens_[current_ + 1].value == name) return true;
    }
    return false;
  }

  static std::string_view describe(TokenType type) {
    switch (type) {
      case TokenType::Text: return "text";
      case TokenType::NumericLiteral: return "a number";
      case TokenType::StringLiteral: return "a string";
      case TokenType::Identifier: return "a name";
      case TokenType::Equals: return "'='";
      case TokenType::OpenParen: return "'('";
      case TokenType::CloseParen: return "')'";
      case TokenType::OpenStatement: return "'{%'";
      case TokenType::CloseStatement: return "'%}'";
      case TokenType::OpenExpression: return "'{{'";
      case TokenType::CloseExpression: return "'}}'";
      case TokenType::OpenSquareBracket: return "'['";
      case TokenType::CloseSquareBracket: return "']'";
      case TokenType::OpenCurlyBracket: return "'{'";
      case TokenType::CloseCurlyBracket: return "'}'";
      case TokenType::Comma: return "','";
      case TokenType::Dot: return "'.'";
      case TokenType::Colon: return "':'";
      case TokenType::Pipe: return "'|'";
      case TokenType::AdditiveOperator:
      case TokenType::MultiplicativeOperator:
      case TokenType::PowerOperator:
      case TokenType::ComparisonOperator:
      case TokenType::UnaryOperator: return "an operator";
      case TokenType::Comment: return "a comment";
    }
    return "a token";
  }

  const Token& expect(TokenType type) {
    if (at_end()) fail(current_, fmt::format("unexpected end of template, expected {}", describe(type)));
    const Token& token = tokens_[current_];
    if (token.type != type) {
      fail(current_, fmt::format("expected {}, found {}{}", describe(type), describe(token.type),
                                 token.type == TokenType::Identifier ? " '" + token.value + "'" : ""));
    }
    ++current_;
    return token;
  }

  void expect_identifier(std::string_view name) {
    if (!is_identifier(name)) fail(current_, fmt::format("expected '{}'", name));
    ++current_;
  }

  // Reads statements until one of `names` opens (the closing tag is left).
  std::vector<NodePtr> block_until(std::initializer_list<std::string_view> names, size_t opened_at,
                                   std::string_view what) {
    std::vector<NodePtr> body;
    open_blocks_.emplace_back(std::string(what), opened_at);
    while (!is_statement(names)) {
      if (at_end()) fail(opened_at, fmt::format("'{}' is never closed", what));
      body.push_back(any());
    }
    open_blocks_.pop_back();
    return body;
  }

  void end_tag(std::string_view name) {
    expect(TokenType::OpenStatement);
    expect_identifier(name);
    expect(TokenType::CloseStatement);
  }

  NodePtr any() {
    DepthGuard guard(*this, current_);
    const Token& token = peek();
    switch (token.type) {
      case TokenType::Comment: {
        ++current_;
        return make(NodeKind::Comment, current_ - 1);
      }
      case TokenType::Text: {
        auto node = make(NodeKind::Text, current_);
        node->name = tokens_[current_++].value;
        return node;
      }
      case TokenType::OpenStatement:
        return statement();
      case TokenType::OpenExpression: {
        ++current_;
        auto node = expression();
        expect(TokenType::CloseExpression);
        return node;
      }
      default:
        fail(current_, fmt::format("unexpected {}", describe(token.type)));
    }
  }

  NodePtr statement() {
    const size_t open = current_;
    expect(TokenType::OpenStatement);
    if (!is(TokenType::Identifier)) fail(current_, "expected a statement name after '{%'");
    const std::string name = tokens_[current_].value;
    ++current_;
    if (name == "set") return set_statement(open);
    if (name == "if") {
      auto node = if_statement(open);
      end_tag("endif");
      return node;
    }
    if (name == "for") {
      auto node = for_statement(open);
      end_tag("endfor");
      return node;
    }
    if (name == "macro") {
      auto node = make(NodeKind::Macro, open);
      auto macro_name = primary();
      if (macro_name->kind != NodeKind::Identifier) fail(current_ - 1, "expected the macro's name");
      node->name = macro_name->name;
      node->params = arguments(true);
      expect(TokenType::CloseStatement);
      node->body = block_until({"endmacro"}, open, "macro");
      end_tag("endmacro");
      return node;
    }
    if (name == "call") {
      auto node = make(NodeKind::CallBlock, open);
      if (is(TokenType::OpenParen)) node->params = arguments(true);
      const size_t callee_at = current_;
      auto callee = primary();
      if (callee->kind != NodeKind::Identifier) fail(callee_at, "expected a macro name after 'call'");
      auto call = make(NodeKind::Call, callee_at);
      call->args.push_back(std::move(callee));
      call->params = arguments(false);
      node->args.push_back(std::move(call));
      expect(TokenType::CloseStatement);
      node->body = block_until({"endcall"}, open, "call");
      end_tag("endcall");
      return node;
    }
    if (name == "filter") {
      auto node = make(NodeKind::FilterBlock, open);
      auto filter = primary();
      if (filter->kind == NodeKind::Identifier && is(TokenType::OpenParen)) filter = call_expression(std::move(filter));
      node->args.push_back(std::move(filter));
      expect(TokenType::CloseStatement);
      node->body = block_until({"endfilter"}, open, "filter");
      end_tag("endfilter");
      return node;
    }
    if (name == "break" || name == "continue") {
      expect(TokenType::CloseStatement);
      return make(name == "break" ? NodeKind::Break : NodeKind::Continue, open);
    }
    const bool closes_a_block = name.rfind("end", 0) == 0 || name == "elif" || name == "else";
    if (closes_a_block && !open_blocks_.empty()) {
      const auto& [block, block_at] = open_blocks_.back();
      fail(open + 1, fmt::format("unexpected '{}': the '{}' at {} is still open", name, block,
                                 source_.locate(tokens_[block_at].pos)));
    }
    if (closes_a_block) fail(open + 1, fmt::format("unexpected '{}' with no block open", name));
    fail(open + 1, fmt::format("unknown or unsupported statement '{}'", name));
  }

  NodePtr set_statement(size_t open) {
    auto node = make(NodeKind::Set, open);
    node->args.push_back(expression_sequence(false));
    if (is(TokenType::Equals)) {
      ++current_;
      node->args.push_back(expression_sequence(false));
    } else {
      expect(TokenType::CloseStatement);
      node->body = block_until({"endset"}, open, "set");
      expect(TokenType::OpenStatement);
      expect_identifier("endset");
    }
    expect(TokenType::CloseStatement);
    return node;
  }

  NodePtr if_statement(size_t open) {
    auto node = make(NodeKind::If, open);
    node->args.push_back(expression());
    expect(TokenType::CloseStatement);
    node->body = block_until({"elif", "else", "endif"}, open, "if");
    if (is_statement({"elif"})) {
      const size_t elif_at = current_;
      current_ += 2;
      node->alternate.push_back(if_statement(elif_at));
    } else if (is_statement({"else"})) {
      current_ += 2;
      expect(TokenType::CloseStatement);
      node->alternate = block_until({"endif"}, open, "if");
    }
    return node;
  }

  NodePtr for_statement(size_t open) {
    auto node = make(NodeKind::For, open);
    const size_t target_at = current_;
    auto target = expression_sequence(true);
    if (target->kind != NodeKind::Identifier && target->kind != NodeKind::TupleLiteral) {
      fail(target_at, "expected a name or names after 'for'");
    }
    if (!is_identifier("in")) fail(current_, "expected 'in' after the loop variable");
    ++current_;
    auto iterable = expression();
    node->args.push_back(std::move(target));
    if (iterable->kind == NodeKind::Select) {
      node->args.push_back(std::move(iterable->args[0]));
      node->args.push_back(std::move(iterable->args[1]));
    } else {
      node->args.push_back(std::move(iterable));
    }
    expect(TokenType::CloseStatement);
    node->body = block_until({"endfor", "else"}, open, "for");
    if (is_statement({"else"})) {
      current_ += 2;
      expect(TokenType::CloseStatement);
      node->alternate = block_until({"endfor"}, open, "for");
    }
    return node;
  }

  NodePtr expression_sequence(bool primary_only) {
    const size_t start = current_;
    auto first = primary_only ? primary() : expression();
    if (!is(TokenType::Comma)) return first;
    auto tuple = make(NodeKind::TupleLiteral, start);
    tuple->args.push_back(std::move(first));
    while (is(TokenType::Comma)) {
      ++current_;
      tuple->args.push_back(primary_only ? primary() : expression());
    }
    return tuple;
  }

  NodePtr expression() {
    DepthGuard guard(*this, current_);
    return if_expression();
  }

  NodePtr binary(const Token& op, size_t at, NodePtr left, NodePtr right) {
    auto node = make(NodeKind::Binary, at);
    node->name = op.value;
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    return node;
  }

  NodePtr if_expression() {
    const size_t start = current_;
    auto value = or_expression();
    if (!is_identifier("if")) return value;
    ++current_;
    auto condition = or_expression();
    if (is_identifier("else")) {
      ++current_;
      auto node = make(NodeKind::Ternary, start);
      node->args.push_back(std::move(condition));
      node->args.push_back(std::move(value));
      node->args.push_back(if_expression());
      return node;
    }
    auto node = make(NodeKind::Select, start);
    node->args.push_back(std::move(value));
    node->args.push_back(std::move(condition));
    return node;
  }

  NodePtr or_expression() {
    auto left = and_expression();
    while (is_identifier("or")) {
      const size_t at = current_;
      const Token& op = tokens_[current_++];
      left = binary(op, at, std::move(left), and_expression());
    }
    return left;
  }

  NodePtr and_expression() {
    auto left = not_expression();
    while (is_identifier("and")) {
      const size_t at = current_;
      const Token& op = tokens_[current_++];
      left = binary(op, at, std::move(left), not_expression());
    }
    return left;
  }

  NodePtr not_expression() {
    NodePtr result;
    while (is_identifier("not")) {
      DepthGuard guard(*this, current_);
      auto node = make(NodeKind::Unary, current_);
      node->name = "not";
      ++current_;
      node->args.push_back(not_expression());
      result = std::move(node);
    }
    return result ? std::move(result) : comparison();
  }

  NodePtr comparison() {
    auto left = additive();
    for (;;) {
      const size_t at = current_;
      Token op{TokenType::Identifier, "", 0};
      if (is_identifier("not") && is_identifier("in", 1)) {
        op.value = "not in";
        current_ += 2;
      } else if (is_identifier("in") || is(TokenType::ComparisonOperator)) {
        op = tokens_[current_++];
      } else {
        break;
      }
      left = binary(op, at, std::move(left), additive());
    }
    return left;
  }

  NodePtr additive() {
    auto left = multiplicative();
    while (is(TokenType::AdditiveOperator)) {
      const size_t at = current_;
      const Token& op = tokens_[current_++];
      left = binary(op, at, std::move(left), multiplicative());
    }
    return left;
  }

  NodePtr multiplicative() {
    auto left = power();
    while (is(TokenType::MultiplicativeOperator)) {
      const size_t at = current_;
      const Token& op = tokens_[current_++];
      left = binary(op, at, std::move(left), power());
    }
    return left;
  }

  NodePtr power() {
    auto left = test_expression();
    while (is(TokenType::PowerOperator)) {
      const size_t at = current_;
      const Token& op = tokens_[current_++];
      left = binary(op, at, std::move(left), test_expression());
    }
    return left;
  }

  NodePtr test_expression() {
    auto operand = filter_expression();
    while (is_identifier("is")) {
      auto node = make(NodeKind::Test, current_);
      ++current_;
      if (is_identifier("not")) {
        node->flag = true;
        ++current_;
      }
      if (!is(TokenType::Identifier)) fail(current_, "expected a test name after 'is'");
      node->name = tokens_[current_++].value;
      if (is(TokenType::OpenParen)) {
        node->params = arguments(false);
      } else if (is(TokenType::NumericLiteral) || is(TokenType::StringLiteral)) {
        node->params.push_back(primary());  // `is divisibleby 3`, as in Jinja2
      }
      node->args.push_back(std::move(operand));
      operand = std::move(node);
    }
    return operand;
  }

  NodePtr filter_expression() {
    auto operand = unary_sign();
    while (is(TokenType::Pipe)) {
      auto node = make(NodeKind::FilterExpr, current_);
      ++current_;
      const size_t filter_at = current_;
      auto filter = primary();
      if (filter->kind != NodeKind::Identifier) fail(filter_at, "expected a filter name after '|'");
      if (is(TokenType::OpenParen)) filter = call_expression(std::move(filter));
      node->args.push_back(std::move(operand));
      node->args.push_back(std::move(filter));
      operand = std::move(node);
    }
    return operand;
  }

  NodePtr unary_sign() {
    if ((is(TokenType::UnaryOperator) || is(TokenType::AdditiveOperator)) &&
        (peek().value == "-" || peek().value == "+")) {
      DepthGuard guard(*this, current_);
      auto node = make(NodeKind::Unary, current_);
      node->name = tokens_[current_++].value;
      node->args.push_back(unary_sign());
      return node;
    }
    auto member = member_expression(primary());
    if (is(TokenType::OpenParen)) return call_expression(std::move(member));
    return member;
  }

  NodePtr call_expression(NodePtr callee) {
    auto node = make(NodeKind::Call, current_);
    node->pos = callee->pos;  // errors point at the function's name
    node->args.push_back(std::move(callee));
    node->params = arguments(false);
    auto result = member_expression(std::move(node));
    if (is(TokenType::OpenParen)) return call_expression(std::move(result));
    return result;
  }

  // `( ... )`: call arguments, or macro parameters (names with defaults).
  std::vector<NodePtr> arguments(bool parameters) {
    expect(TokenType::OpenParen);
    std::vector<NodePtr> args;
    std::set<std::string> names;
    bool saw_keyword = false;
    bool saw_spread = false;
    while (!is(TokenType::CloseParen)) {
      if (at_end()) fail(current_, "unexpected end of template in an argument list");
      const size_t at = current_;
      const bool keyword_spread = is(TokenType::PowerOperator);
      const bool spread = is(TokenType::MultiplicativeOperator) && peek().value == "*";
      if (parameters && (keyword_spread || spread)) fail(at, "'*' and '**' are not allowed in parameters");
      if (keyword_spread) {
        ++current_;
        auto node = make(NodeKind::KeywordSpread, at);
        node->args.push_back(expression());
        args.push_back(std::move(node));
        if (is(TokenType::Comma)) ++current_;
        if (!is(TokenType::CloseParen)) fail(current_, "'**' must be applied to the last argument");
        break;
      }
      NodePtr argument;
      if (spread) {
        if (saw_spread) fail(at, "only one '*' argument is allowed");
        saw_spread = true;
        ++current_;
        argument = make(NodeKind::Spread, at);
        argument->args.push_back(expression());
      } else {
        argument = expression();
        if (is(TokenType::Equals)) {
          ++current_;
          if (argument->kind != NodeKind::Identifier) fail(at, "expected a name before '='");
          auto keyword = make(NodeKind::KeywordArg, at);
          keyword->name = argument->name;
          keyword->args.push_back(expression());
          argument = std::move(keyword);
        }
        if (parameters) {
          if (argument->kind != NodeKind::Identifier && argument->kind != NodeKind::KeywordArg) {
            fail(at, "expected a parameter name");
          }
          if (!names.insert(argument->name).second) fail(at, fmt::format("duplicate parameter '{}'", argument->name));
        }
        if (argument->kind == NodeKind::KeywordArg) {
          saw_keyword = true;
        } else if (saw_keyword) {
          fail(at, parameters ? "a parameter without default follows one with a default"
                              : "a positional argument follows a keyword argument");
        } else if (saw_spread) {
          fail(at, "a positional argument follows '*'");
        }
      }
      args.push_back(std::move(argument));
      if (is(TokenType::Comma)) ++current_;
    }
    expect(TokenType::CloseParen);
    return args;
  }

  NodePtr subscript() {
    const size_t start = current_;
    std::vector<NodePtr> parts;
    bool is_slice = false;
    while (!is(TokenType::CloseSquareBracket)) {
      if (at_end()) fail(start, "'[' is never closed");
      if (is(TokenType::Colon)) {
        parts.push_back(nullptr);
        ++current_;
        is_slice = true;
      } else {
        parts.push_back(expression());
        if (is(TokenType::Colon)) {
          ++current_;
          is_slice = true;
        }
      }
    }
    if (parts.empty()) fail(start, "expected an index or a slice inside '[ ]'");
    if (!is_slice) return std::move(parts[0]);
    if (parts.size() > 3) fail(start, "a slice has at most 3 parts");
    auto node = make(NodeKind::Slice, start);
    for (auto& part : parts) node->args.push_back(std::move(part));
    node->args.resize(3);
    return node;
  }

  NodePtr member_expression(NodePtr object) {
    while (is(TokenType::Dot) || is(TokenType::OpenSquareBracket)) {
      auto node = make(NodeKind::Member, current_);
      const bool computed = tokens_[current_].type == TokenType::OpenSquareBracket;
      ++current_;
      NodePtr property;
      if (computed) {
        property = subscript();
        expect(TokenType::CloseSquareBracket);
      } else {
        const size_t at = current_;
        property = primary();
        if (property->kind != NodeKind::Identifier && property->kind != NodeKind::IntLiteral) {
          fail(at, "expected a name or an integer after '.'");
        }
      }
      node->flag = computed;
      node->args.push_back(std::move(object));
      node->args.push_back(std::move(property));
      object = std::move(node);
    }
    return object;
  }

  NodePtr primary() {
    const size_t at = current_;
    const Token& token = peek();
    ++current_;
    switch (token.type) {
      case TokenType::NumericLiteral: {
        if (token.value.find('.') != std::string::npos) {
          auto node = make(NodeKind::FloatLiteral, at);
          node->float_value = std::strtod(token.value.c_str(), nullptr);
          return node;
        }
        auto node = make(NodeKind::IntLiteral, at);
        errno = 0;
        node->int_value = std::strtoll(token.value.c_str(), nullptr, 10);
        if (errno == ERANGE) fail(at, "integer literal out of range");
        return node;
      }
      case TokenType::StringLiteral: {
        auto node = make(NodeKind::StringLiteral, at);
        node->name = token.value;
        while (is(TokenType::StringLiteral)) node->name += tokens_[current_++].value;
        return node;
      }
      case TokenType::Identifier: {
        auto node = make(NodeKind::Identifier, at);
        node->name = token.value;
        return node;
      }
      case TokenType::OpenParen: {
        DepthGuard guard(*this, at);
        auto node = expression_sequence(false);
        expect(TokenType::CloseParen);
        return node;
      }
      case TokenType::OpenSquareBracket: {
        DepthGuard guard(*this, at);
        auto node = make(NodeKind::ArrayLiteral, at);
        while (!is(TokenType::CloseSquareBracket)) {
          if (at_end()) fail(at, "'[' is never closed");
          node->args.push_back(expression());
          if (is(TokenType::Comma)) ++current_;
        }
        ++current_;
        return node;
      }
      case TokenType::OpenCurlyBracket: {
        DepthGuard guard(*this, at);
        auto node = make(NodeKind::ObjectLiteral, at);
        while (!is(TokenType::CloseCurlyBracket)) {
          if (at_end()) fail(at, "'{' is never closed");
          node->args.push_back(expression());
          expect(TokenType::Colon);
          node->args.push_back(expression());
          if (is(TokenType::Comma)) ++current_;
        }
        ++current_;
        return node;
      }
      default:
        fail(at, fmt::format("unexpected {}", describe(token.type)));
    }
  }

  const std::vector<Token>& tokens_;
  const SourceText& source_;
  size_t current_ = 0;
  int depth_ = 0;
  std::vector<std::pair<std::string, size_t>> open_blocks_;  // block name, its opening token
};

}  // namespace

NodePtr parse_template(const std::vector<Token>& tokens, const SourceText& source) {
  return Parser(tokens, source).program();
}

}  // namespace pocketllm::jinja
