// A tokenizer for SQL as PostgreSQL prints it (view, index, constraint,
// trigger, rule and policy definitions), enough to find literals, casts,
// operators and brackets without being fooled by quotes. Tokens keep their
// byte spans, so a rewrite replaces exactly the text it means.
#ifndef MIGRATOR_STATUS_ENUM_SQL_TOKENS_H_
#define MIGRATOR_STATUS_ENUM_SQL_TOKENS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::migrator {

enum class TokenKind {
  kString,  // '...' or E'...': `value` is the unescaped content
  kIdent,   // a word or a "quoted identifier": `value` is the text as written
  kNumber,
  kOperator,  // =, <>, <=, ||, ...
  kCast,      // ::
  kPunct,     // ( ) [ ] , ; . :
};

struct Token {
  TokenKind kind;
  size_t begin = 0;  // byte span in the source
  size_t end = 0;
  std::string value;

  bool Is(TokenKind k, absl::string_view v) const;
  // An unquoted word, compared case-insensitively (keywords).
  bool IsWord(absl::string_view word) const;
};

// INVALID_ARGUMENT for an unterminated quote or comment.
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view sql);

// The index of the bracket closing the one at `open` ('(' or '['), or npos.
size_t MatchingClose(const std::vector<Token>& tokens, size_t open);
// The index of the unclosed '[' or '(' enclosing `pos`, or npos.
size_t EnclosingOpen(const std::vector<Token>& tokens, size_t pos, absl::string_view open);

// A type name after "::": words joined by '.', "character varying" and
// similar two-word names, and a trailing "[]".
struct TypeName {
  std::string name;  // as written, without "[]"
  bool array = false;
  size_t last = 0;  // index of its last token
};
TypeName ParseTypeName(const std::vector<Token>& tokens, size_t first);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_SQL_TOKENS_H_
