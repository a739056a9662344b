#pragma once
// Syntax tree of a chat template. One node type with a kind tag; which
// fields a kind uses:
//
//   kind          name          args                         params        body / alternate
//   Program       -             -                            -             statements / -
//   Text          the text      -                            -             -
//   Comment       -             -                            -             -
//   If            -             [test]                       -             then / else (elif: one If)
//   For           -             [target, iterable, filter?]  -             body / else
//   Break, Continue
//   Set           -             [target, value?]             -             block body when no value
//   Macro         macro name    -                            parameters    body
//   CallBlock     -             [call expression]            caller params body
//   FilterBlock   -             [filter (Identifier|Call)]   -             body
//   Identifier    the name
//   IntLiteral / FloatLiteral   (int_value / float_value)
//   StringLiteral the string
//   ArrayLiteral / TupleLiteral args: elements; ObjectLiteral args: key, value, key, value...
//   Binary        operator      [left, right]
//   Unary         operator      [operand]
//   FilterExpr    -             [operand, filter (Identifier|Call)]
//   Test          test name     [operand]                    test arguments (flag: `is not`)
//   Select        -             [value, condition]           (`a if b` with no else)
//   Ternary       -             [condition, if_true, if_false]
//   Call          -             [callee]                     arguments
//   Member        -             [object, property]           (flag: computed `[ ]`)
//   Slice         -             [start, stop, step] (null when absent)
//   KeywordArg    the key       [value]
//   Spread / KeywordSpread      [operand]                    (`*x` / `**x` in calls)
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pocketllm::jinja {

enum class NodeKind : uint8_t {
  Program, Text, Comment, If, For, Break, Continue, Set, Macro, CallBlock, FilterBlock,
  Identifier, IntLiteral, FloatLiteral, StringLiteral, ArrayLiteral, TupleLiteral, ObjectLiteral,
  Binary, Unary, FilterExpr, Test, Select, Ternary, Call, Member, Slice, KeywordArg, Spread,
  KeywordSpread,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  NodeKind kind;
  uint32_t pos = 0;  // offset in the preprocessed template (SourceText::text)
  std::string name;
  int64_t int_value = 0;
  double float_value = 0;
  bool flag = false;
  std::vector<NodePtr> args;
  std::vector<NodePtr> params;
  std::vector<NodePtr> body;
  std::vector<NodePtr> alternate;

  Node(NodeKind k, uint32_t p) : kind(k), pos(p) {}
  const Node* arg(size_t i) const { return i < args.size() ? args[i].get() : nullptr; }
};

}  // namespace pocketllm::jinja
