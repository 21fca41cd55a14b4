#include "history-service/list_filter.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/rpc_error.h"

namespace booking {

const char kListFilterHelp[] =
    "supported: comparisons joined by AND; changed_by, to_status and from_status with = and a "
    "string; create_time with <, <=, > or >= and an RFC 3339 time from "
    "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z; e.g. "
    "changed_by = \"ops@example.com\" AND to_status = \"CANCELLED\" AND "
    "create_time >= \"2026-11-01T00:00:00Z\"";

namespace {

constexpr size_t kMaxFilterBytes = 2048;

absl::Status BadFilter(absl::string_view problem) {
  return RpcError(absl::StatusCode::kInvalidArgument,
                  absl::StrCat("filter: ", problem, " (", kListFilterHelp, ")"))
      .FieldViolation("filter", absl::StrCat(problem, "; ", kListFilterHelp))
      .Info("INVALID_FILTER", "history.v1");
}

// A caller's text inside a message: printable ASCII (the rest escaped),
// at most about 64 bytes of it.
std::string Shown(absl::string_view text) {
  constexpr size_t kMax = 64;
  return text.size() <= kMax ? absl::CHexEscape(text)
                             : absl::StrCat(absl::CHexEscape(text.substr(0, kMax)), "...");
}

enum class Kind { kWord, kString, kOperator };
struct Token {
  Kind kind;
  std::string text;
};

bool IsWordChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' ||
         c == '-' || c == '+';
}

// A "quoted" string from text[*i] (the opening quote) on.
absl::StatusOr<std::string> QuotedString(absl::string_view text, size_t* i) {
  std::string out;
  for (size_t j = *i + 1; j < text.size(); ++j) {
    if (text[j] == '"') {
      *i = j + 1;
      return out;
    }
    if (text[j] == '\\' && j + 1 < text.size()) ++j;
    out.push_back(text[j]);
  }
  return BadFilter("a string is not closed with \"");
}

absl::StatusOr<std::vector<Token>> Tokens(absl::string_view text) {
  std::vector<Token> out;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"') {
      absl::StatusOr<std::string> s = QuotedString(text, &i);
      if (!s.ok()) return s.status();
      out.push_back({Kind::kString, *std::move(s)});
    } else if (c == '<' || c == '>' || c == '=' || c == '!' || c == ':') {
      const size_t n = (i + 1 < text.size() && text[i + 1] == '=') ? 2 : 1;
      out.push_back({Kind::kOperator, std::string(text.substr(i, n))});
      i += n;
    } else if (IsWordChar(c)) {
      size_t j = i;
      while (j < text.size() && IsWordChar(text[j])) ++j;
      out.push_back({Kind::kWord, std::string(text.substr(i, j - i))});
      i = j;
    } else {
      return BadFilter(absl::StrCat("unexpected character '", Shown(text.substr(i, 1)), "'"));
    }
  }
  return out;
}

absl::Status SetText(std::optional<std::string>& slot, const std::string& field,
                     const std::string& op, const std::string& value) {
  if (op != "=") return BadFilter(absl::StrCat(field, " can only be compared with ="));
  if (slot) return BadFilter(absl::StrCat(field, " appears more than once"));
  if (!CheckText(field, value, limits::kMaxIdBytes).ok()) {
    return BadFilter(absl::StrCat(field, "'s value is not valid UTF-8 of at most ",
                                  limits::kMaxIdBytes, " bytes"));
  }
  slot = value;
  return absl::OkStatus();
}

absl::Status SetTime(ListFilter& f, const std::string& op, const std::string& value) {
  if (op != ">" && op != ">=" && op != "<" && op != "<=") {
    return BadFilter("create_time can only be compared with <, <=, > or >=");
  }
  absl::Time t;
  std::string why;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &why)) {
    return BadFilter(absl::StrCat("create_time value \"", Shown(value),
                                  "\" is not an RFC 3339 time like 2026-11-01T00:00:00Z"));
  }
  // Checked here, before any query: PostgreSQL refuses what lies outside
  // its timestamp range (year 0 among it) with an error, not an answer.
  const TimeBound bound{absl::ToUnixMicros(t), op.size() == 2};
  if (!CheckTimeMicros("filter", bound.micros).ok()) {
    return BadFilter(
        absl::StrCat("create_time value \"", Shown(value), "\" is outside ", kTimeRangeText));
  }
  std::optional<TimeBound>& slot = op[0] == '>' ? f.after : f.before;
  if (slot) return BadFilter("create_time has more than one lower or upper bound");
  slot = bound;
  return absl::OkStatus();
}

// One "field op value" at tokens[i..i+2].
absl::Status Apply(ListFilter& f, const std::vector<Token>& tokens, size_t i) {
  if (i + 2 >= tokens.size()) {
    return BadFilter("a comparison is incomplete: expected field, operator and value");
  }
  const Token& field = tokens[i];
  const Token& op = tokens[i + 1];
  const Token& value = tokens[i + 2];
  if (field.kind != Kind::kWord || op.kind != Kind::kOperator || value.kind == Kind::kOperator) {
    return BadFilter("expected a comparison: field, operator, value");
  }
  if (field.text == "changed_by") return SetText(f.changed_by, field.text, op.text, value.text);
  if (field.text == "to_status") return SetText(f.to_status, field.text, op.text, value.text);
  if (field.text == "from_status") return SetText(f.from_status, field.text, op.text, value.text);
  if (field.text == "create_time") return SetTime(f, op.text, value.text);
  return BadFilter(absl::StrCat("unknown field \"", Shown(field.text), "\""));
}

std::string Part(absl::string_view name, const std::optional<std::string>& v) {
  return v ? absl::StrCat(name, "=", v->size(), ":", *v, ";") : "";
}

std::string Part(absl::string_view name, const std::optional<TimeBound>& b) {
  return b ? absl::StrCat(name, b->inclusive ? "=" : "", b->micros, ";") : "";
}

}  // namespace

std::string ListFilter::Canonical() const {
  return absl::StrCat(Part("changed_by", changed_by), Part("to_status", to_status),
                      Part("from_status", from_status), Part(">", after), Part("<", before));
}

absl::StatusOr<ListFilter> ParseListFilter(absl::string_view text) {
  if (text.size() > kMaxFilterBytes) {
    return BadFilter(absl::StrCat("longer than ", kMaxFilterBytes, " bytes"));
  }
  absl::StatusOr<std::vector<Token>> tokens = Tokens(text);
  if (!tokens.ok()) return tokens.status();
  ListFilter f;
  for (size_t i = 0; i < tokens->size(); i += 4) {
    if (absl::Status s = Apply(f, *tokens, i); !s.ok()) return s;
    if (i + 3 >= tokens->size()) break;
    const Token& join = (*tokens)[i + 3];
    if (join.kind != Kind::kWord || join.text != "AND") {
      return BadFilter(absl::StrCat("\"", Shown(join.text),
                                    "\" where AND was expected (only AND joins ",
                                    "comparisons; OR, NOT and parentheses are not supported)"));
    }
    if (i + 4 >= tokens->size()) return BadFilter("nothing after the last AND");
  }
  return f;
}

}  // namespace booking
