#include "migrator/status_enum/sql_tokens.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace booking::migrator {
namespace {

bool IsWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsWordChar(char c) {
  return IsWordStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}
bool IsOperatorChar(char c) {
  return absl::string_view("+-*/<>=~!@#%^&|`?").find(c) != absl::string_view::npos;
}

// A quoted run starting at `i` (the opening quote); returns the index after
// the closing quote, or npos. `value` gets the content with doubled quotes
// (and, when `backslashes`, escapes) undone.
size_t ReadQuoted(absl::string_view sql, size_t i, char quote, bool backslashes,
                  std::string* value) {
  for (size_t j = i + 1; j < sql.size(); ++j) {
    if (backslashes && sql[j] == '\\' && j + 1 < sql.size()) {
      value->push_back(sql[++j]);
      continue;
    }
    if (sql[j] != quote) {
      value->push_back(sql[j]);
      continue;
    }
    if (j + 1 < sql.size() && sql[j + 1] == quote) {
      value->push_back(quote);
      ++j;
      continue;
    }
    return j + 1;
  }
  return absl::string_view::npos;
}

}  // namespace

bool Token::Is(TokenKind k, absl::string_view v) const { return kind == k && value == v; }

bool Token::IsWord(absl::string_view word) const {
  return kind == TokenKind::kIdent && !value.empty() && value[0] != '"' &&
         absl::EqualsIgnoreCase(value, word);
}

namespace {

// The position after the whitespace and comments at `i` (`i` when none).
absl::StatusOr<size_t> SkipBlank(absl::string_view sql, size_t i) {
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t eol = sql.find('\n', i);
      i = eol == absl::string_view::npos ? sql.size() : eol + 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const size_t end = sql.find("*/", i + 2);
      if (end == absl::string_view::npos) return absl::InvalidArgumentError("unterminated comment");
      i = end + 2;
    } else {
      break;
    }
  }
  return i;
}

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view sql) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (true) {
    absl::StatusOr<size_t> next = SkipBlank(sql, i);
    if (!next.ok()) return next.status();
    i = *next;
    if (i >= sql.size()) break;
    const char c = sql[i];
    Token t{TokenKind::kPunct, i, i + 1, std::string(1, c)};
    const bool escape_string = (c == 'E' || c == 'e') && i + 1 < sql.size() && sql[i + 1] == '\'';
    if (c == '\'' || escape_string) {
      t.kind = TokenKind::kString;
      t.value.clear();
      t.end = ReadQuoted(sql, escape_string ? i + 1 : i, '\'', escape_string, &t.value);
      if (t.end == absl::string_view::npos)
        return absl::InvalidArgumentError("unterminated string");
    } else if (c == '"') {
      t.kind = TokenKind::kIdent;
      std::string unquoted;
      t.end = ReadQuoted(sql, i, '"', false, &unquoted);
      if (t.end == absl::string_view::npos) {
        return absl::InvalidArgumentError("unterminated quoted identifier");
      }
      t.value = std::string(sql.substr(i, t.end - i));
    } else if (IsWordStart(c)) {
      t.kind = TokenKind::kIdent;
      while (t.end < sql.size() && IsWordChar(sql[t.end])) ++t.end;
      t.value = std::string(sql.substr(i, t.end - i));
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      t.kind = TokenKind::kNumber;
      while (t.end < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[t.end])) || sql[t.end] == '.')) {
        ++t.end;
      }
      t.value = std::string(sql.substr(i, t.end - i));
    } else if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
      t.kind = TokenKind::kCast;
      t.end = i + 2;
      t.value = "::";
    } else if (IsOperatorChar(c)) {
      t.kind = TokenKind::kOperator;
      while (t.end < sql.size() && IsOperatorChar(sql[t.end])) ++t.end;
      t.value = std::string(sql.substr(i, t.end - i));
    }
    i = t.end;
    tokens.push_back(std::move(t));
  }
  return tokens;
}

size_t MatchingClose(const std::vector<Token>& tokens, size_t open) {
  const std::string open_text = tokens[open].value;
  const std::string close_text = open_text == "(" ? ")" : "]";
  int depth = 0;
  for (size_t k = open; k < tokens.size(); ++k) {
    if (tokens[k].kind != TokenKind::kPunct) continue;
    if (tokens[k].value == open_text) ++depth;
    if (tokens[k].value == close_text && --depth == 0) return k;
  }
  return std::string::npos;
}

size_t EnclosingOpen(const std::vector<Token>& tokens, size_t pos, absl::string_view open) {
  const std::string close = open == "(" ? ")" : "]";
  int depth = 0;
  for (size_t k = pos; k-- > 0;) {
    if (tokens[k].kind != TokenKind::kPunct) continue;
    if (tokens[k].value == close) ++depth;
    if (tokens[k].value == open) {
      if (depth == 0) return k;
      --depth;
    }
  }
  return std::string::npos;
}

TypeName ParseTypeName(const std::vector<Token>& tokens, size_t first) {
  TypeName type;
  size_t k = first;
  if (k >= tokens.size() || tokens[k].kind != TokenKind::kIdent) {
    type.last = first == 0 ? 0 : first - 1;
    return type;
  }
  type.name = tokens[k].value;
  // Two-word names PostgreSQL prints: character varying, double precision,
  // timestamp/time with(out) time zone are not label types; only the first
  // pair matters here.
  if ((tokens[k].IsWord("character") || tokens[k].IsWord("double")) && k + 1 < tokens.size() &&
      tokens[k + 1].kind == TokenKind::kIdent) {
    absl::StrAppend(&type.name, " ", tokens[++k].value);
  }
  while (k + 2 < tokens.size() && tokens[k + 1].Is(TokenKind::kPunct, ".") &&
         tokens[k + 2].kind == TokenKind::kIdent) {
    absl::StrAppend(&type.name, ".", tokens[k + 2].value);
    k += 2;
  }
  if (k + 2 < tokens.size() && tokens[k + 1].Is(TokenKind::kPunct, "[") &&
      tokens[k + 2].Is(TokenKind::kPunct, "]")) {
    type.array = true;
    k += 2;
  }
  type.last = k;
  return type;
}

}  // namespace booking::migrator
