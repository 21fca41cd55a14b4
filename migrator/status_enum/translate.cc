#include "migrator/status_enum/translate.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/sql_tokens.h"

namespace booking::migrator {
namespace {

constexpr size_t kNone = std::string::npos;

struct Edit {
  size_t begin, end;
  std::string text;
};

// One string literal with a cast: 'X'::type or '{X,Y}'::type[].
struct Literal {
  size_t string_token;
  TypeName type;
  bool enum_typed;  // cast to the enum type (else: text)
};

bool IsTextType(const TypeName& t) { return t.name == "text" || t.name == "character varying"; }

std::string Quote(absl::string_view label) {
  std::string out = "'";
  for (char c : label) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

std::string ArrayText(const std::vector<std::string>& labels) {
  return absl::StrCat("{", absl::StrJoin(labels, ","), "}");
}

void AddUnique(std::vector<std::string>& out, const std::vector<std::string>& labels) {
  for (const std::string& l : labels) {
    if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
}

class Translator {
 public:
  Translator(absl::string_view sql, const Translation& how, std::vector<Token> tokens)
      : sql_(sql), how_(how), tokens_(std::move(tokens)) {}

  absl::StatusOr<std::string> Run() {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      std::optional<Literal> lit = LiteralAt(i);
      if (!lit) continue;
      if (absl::Status s = Rewrite(*lit); !s.ok()) return s;
      i = lit->type.last;
    }
    RenameTypesAndColumns();
    return Apply();
  }

  std::vector<std::string> Occurrences() {
    std::vector<std::string> labels;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      std::optional<Literal> lit = LiteralAt(i);
      if (!lit) continue;
      if (lit->enum_typed || ComparedWithColumnText(*lit)) {
        for (const std::string& l : Elements(*lit)) labels.push_back(l);
      }
      i = lit->type.last;
    }
    return labels;
  }

  std::vector<std::string> Unrecognised() {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (t.kind != TokenKind::kString || !IsOldOnly(t.value)) continue;
      // A literal of another type (another enum sharing a label name) is not ours.
      if (i + 1 < tokens_.size() && tokens_[i + 1].kind == TokenKind::kCast &&
          !IsTextType(ParseTypeName(tokens_, i + 2))) {
        continue;
      }
      AddUnique(out, {t.value});
    }
    // Minus those that are enum literals or recognised text comparisons.
    for (const std::string& l : Occurrences())
      out.erase(std::remove(out.begin(), out.end(), l), out.end());
    return out;
  }

 private:
  // A literal whose cast names the enum type, or a text literal naming a label.
  std::optional<Literal> LiteralAt(size_t i) const {
    if (tokens_[i].kind != TokenKind::kString || i + 2 >= tokens_.size() ||
        tokens_[i + 1].kind != TokenKind::kCast) {
      return std::nullopt;
    }
    Literal lit{i, ParseTypeName(tokens_, i + 2), false};
    if (lit.type.name == how_.type) {
      lit.enum_typed = true;
      return lit;
    }
    if (!IsTextType(lit.type)) return std::nullopt;
    for (const std::string& l : Elements(lit)) {
      if (!IsKnownLabel(l)) return std::nullopt;
    }
    return lit;
  }

  std::vector<std::string> Elements(const Literal& lit) const {
    const std::string& v = tokens_[lit.string_token].value;
    if (!lit.type.array) return {v};
    std::vector<std::string> out;
    if (v.size() < 2 || v.front() != '{' || v.back() != '}') return out;
    for (absl::string_view e : absl::StrSplit(v.substr(1, v.size() - 2), ',', absl::SkipEmpty())) {
      std::string element(e);
      if (element.size() >= 2 && element.front() == '"')
        element = element.substr(1, element.size() - 2);
      out.push_back(element);
    }
    return out;
  }

  // "(col)::text" (or "(t.col)::text") ends just before token `op`.
  bool ColumnTextBefore(size_t op) const {
    if (op < 4) return false;
    if (!tokens_[op - 1].IsWord("text") || tokens_[op - 2].kind != TokenKind::kCast ||
        !tokens_[op - 3].Is(TokenKind::kPunct, ")") || tokens_[op - 4].kind != TokenKind::kIdent) {
      return false;
    }
    const std::string& col = tokens_[op - 4].value;
    return std::find(how_.columns.begin(), how_.columns.end(), col) != how_.columns.end();
  }

  bool IsEqualityOp(size_t k) const {
    return k < tokens_.size() &&
           (tokens_[k].Is(TokenKind::kOperator, "=") || tokens_[k].Is(TokenKind::kOperator, "<>"));
  }
  bool IsOrderingOp(size_t k) const {
    if (k >= tokens_.size() || tokens_[k].kind != TokenKind::kOperator) return false;
    const std::string& v = tokens_[k].value;
    return v == "<" || v == ">" || v == "<=" || v == ">=";
  }

  // For a literal or ARRAY at `first`, preceded by "op ANY|ALL ((": the
  // comparison operator's index, else kNone.
  size_t SetComparisonOp(size_t first) const {
    size_t k = first;
    while (k > 0 && tokens_[k - 1].Is(TokenKind::kPunct, "(")) --k;
    if (k == first || k < 2) return kNone;
    if (!tokens_[k - 1].IsWord("ANY") && !tokens_[k - 1].IsWord("ALL")) return kNone;
    return IsEqualityOp(k - 2) ? k - 2 : kNone;
  }

  // The ARRAY[ ... ] around a literal, as the index of its '[', when that
  // array is compared (= ANY / <> ALL); else kNone.
  size_t ComparedArrayAround(const Literal& lit) const {
    const size_t open = EnclosingOpen(tokens_, lit.string_token, "[");
    if (open == kNone || open == 0 || !tokens_[open - 1].IsWord("ARRAY")) return kNone;
    if (SetComparisonOp(open - 1) == kNone) return kNone;
    const size_t enclosing_paren = EnclosingOpen(tokens_, lit.string_token, "(");
    if (enclosing_paren != kNone && enclosing_paren > open) return kNone;
    return open;
  }

  bool ComparedWithColumnText(const Literal& lit) const {
    if (lit.enum_typed) return true;
    const size_t i = lit.string_token;
    if (lit.type.array) {
      const size_t op = SetComparisonOp(i);
      return op != kNone && ColumnTextBefore(op);
    }
    if (i > 0 && IsEqualityOp(i - 1)) return ColumnTextBefore(i - 1);
    const size_t open = ComparedArrayAround(lit);
    if (open == kNone) return false;
    return ColumnTextBefore(SetComparisonOp(open - 1));
  }

  absl::Status Refuse(const Literal& lit, absl::string_view why) const {
    const size_t at = tokens_[lit.string_token].begin;
    const size_t from = at > 40 ? at - 40 : 0;
    return absl::FailedPreconditionError(
        absl::StrCat(why, " (at: ...", sql_.substr(from, 100), "...)"));
  }

  // While both sets are in use a comparison must name whole statuses: an old
  // label and every new label reading back as it, or none of them (backfill
  // and its rollback move rows between them).
  absl::Status CheckWhole(const std::vector<std::string>& set, const Literal& lit) const {
    if (how_.mode != DefinitionMode::kWiden) return absl::OkStatus();
    for (const std::string& l : set) {
      for (const std::string& member : StatusClass(l)) {
        if (std::find(set.begin(), set.end(), member) != set.end()) continue;
        return Refuse(lit, absl::StrCat("it names '", l, "' but not '", member,
                                        "': while both label sets are in use both stand for one "
                                        "status (backfill and its rollback turn one into the "
                                        "other), so it cannot answer the same in every phase; "
                                        "name all of ",
                                        absl::StrJoin(StatusClass(l), ", "), " or none"));
      }
    }
    return absl::OkStatus();
  }

  std::string LiteralText(const std::string& label, const Literal& lit) const {
    std::string type =
        lit.enum_typed && !how_.target_type.empty() ? how_.target_type : lit.type.name;
    return absl::StrCat(Quote(label), "::", type);
  }

  absl::Status Rewrite(const Literal& lit) {
    if (!ComparedWithColumnText(lit)) return absl::OkStatus();  // text not about the column
    const size_t i = lit.string_token;
    const size_t next = lit.type.last + 1;
    const std::vector<std::string> elements = Elements(lit);
    if ((i > 0 && IsOrderingOp(i - 1)) || IsOrderingOp(next)) {
      return Refuse(lit,
                    "an ordering comparison (<, >) of status labels: the order differs between "
                    "the label sets; compare with = or IN instead");
    }
    if (lit.type.array) return RewriteArrayLiteral(lit, elements);
    const std::string& label = elements[0];
    if (const size_t open = ComparedArrayAround(lit); open != kNone) {
      return RewriteArray(open, lit);
    }
    std::vector<std::string> set = ComparisonLabels(label, how_.mode);
    const bool distinct =
        i >= 2 && tokens_[i - 1].IsWord("FROM") && tokens_[i - 2].IsWord("DISTINCT");
    const bool simple_case = i > 0 && tokens_[i - 1].IsWord("WHEN");
    const bool compared =
        (i > 0 && IsEqualityOp(i - 1)) || IsEqualityOp(next) || distinct || simple_case;
    if (compared) {  // a value (a default, a CASE result) is one label for one label
      if (absl::Status whole = CheckWhole(set, lit); !whole.ok()) return whole;
    }
    if (i > 0 && IsEqualityOp(i - 1)) {
      const std::string& op = tokens_[i - 1].value;
      if (set.size() == 1) return Replace(i, lit.type.last, LiteralText(set[0], lit));
      std::vector<std::string> parts;
      for (const std::string& l : set) parts.push_back(LiteralText(l, lit));
      edits_.push_back({tokens_[i - 1].begin, tokens_[lit.type.last].end,
                        absl::StrCat(op, op == "=" ? " ANY (ARRAY[" : " ALL (ARRAY[",
                                     absl::StrJoin(parts, ", "), "])")});
      return absl::OkStatus();
    }
    if (IsEqualityOp(next) || distinct || simple_case) {
      if (set.size() == 1) return Replace(i, lit.type.last, LiteralText(set[0], lit));
      return Refuse(lit, simple_case ? absl::StrCat("a simple CASE names '", label,
                                                    "', which stands for several labels here; "
                                                    "write CASE WHEN status IN (...) THEN instead")
                         : distinct  ? absl::StrCat("IS [NOT] DISTINCT FROM '", label,
                                                    "', which stands for several labels here; "
                                                     "write status IN (...) or NOT IN (...) instead")
                                     : absl::StrCat("'", label,
                                                    "' stands left of = and for several "
                                                     "labels here; write status = '",
                                                    label, "' instead"));
    }
    return Replace(i, lit.type.last, LiteralText(ValueLabel(label, how_.mode), lit));
  }

  absl::Status RewriteArrayLiteral(const Literal& lit, const std::vector<std::string>& elements) {
    std::vector<std::string> out;
    const bool compared = SetComparisonOp(lit.string_token) != kNone;
    for (const std::string& e : elements) {
      AddUnique(out, compared ? ComparisonLabels(e, how_.mode)
                              : std::vector<std::string>{ValueLabel(e, how_.mode)});
    }
    if (compared) {
      if (absl::Status whole = CheckWhole(out, lit); !whole.ok()) return whole;
    }
    const std::string type =
        lit.enum_typed && !how_.target_type.empty() ? how_.target_type : lit.type.name;
    return Replace(lit.string_token, lit.type.last,
                   absl::StrCat(Quote(ArrayText(out)), "::", type, "[]"));
  }

  // ARRAY[e1, e2, ...]: every literal element becomes its set; the whole
  // list rewritten once, each label once.
  absl::Status RewriteArray(size_t open, const Literal& first) {
    if (std::find(done_arrays_.begin(), done_arrays_.end(), open) != done_arrays_.end()) {
      return absl::OkStatus();
    }
    done_arrays_.push_back(open);
    const size_t close = MatchingClose(tokens_, open);
    if (close == kNone) return Refuse(first, "unbalanced ARRAY[...]");
    std::vector<std::string> labels, others;
    size_t k = open + 1;
    while (k < close) {
      size_t end = k;
      while (end < close && !tokens_[end].Is(TokenKind::kPunct, ",")) {
        if (tokens_[end].Is(TokenKind::kPunct, "(") || tokens_[end].Is(TokenKind::kPunct, "[")) {
          end = MatchingClose(tokens_, end);
        }
        ++end;
      }
      std::optional<Literal> lit = LiteralAt(k);
      if (lit && lit->type.last + 1 == end && !lit->type.array) {
        AddUnique(labels, ComparisonLabels(tokens_[k].value, how_.mode));
      } else {
        others.emplace_back(sql_.substr(tokens_[k].begin, tokens_[end - 1].end - tokens_[k].begin));
      }
      k = end + 1;
    }
    if (absl::Status whole = CheckWhole(labels, first); !whole.ok()) return whole;
    std::vector<std::string> parts;
    for (const std::string& l : labels) parts.push_back(LiteralText(l, first));
    for (const std::string& o : others) parts.push_back(o);
    edits_.push_back({tokens_[open].end, tokens_[close].begin, absl::StrJoin(parts, ", ")});
    return absl::OkStatus();
  }

  absl::Status Replace(size_t first, size_t last, std::string text) {
    edits_.push_back({tokens_[first].begin, tokens_[last].end, std::move(text)});
    return absl::OkStatus();
  }

  void RenameTypesAndColumns() {
    for (size_t k = 0; k < tokens_.size(); ++k) {
      if (!how_.target_type.empty() && tokens_[k].kind == TokenKind::kCast) {
        TypeName t = ParseTypeName(tokens_, k + 1);
        if (t.name == how_.type && !Covered(tokens_[k + 1].begin)) {
          edits_.push_back({tokens_[k + 1].begin, tokens_[t.last].end,
                            absl::StrCat(how_.target_type, t.array ? "[]" : "")});
        }
      }
      if (tokens_[k].kind != TokenKind::kIdent || Covered(tokens_[k].begin)) continue;
      if (k > 0 && tokens_[k - 1].kind == TokenKind::kCast) continue;  // a type name
      for (const auto& [from, to] : how_.column_renames) {
        if (tokens_[k].value == from) edits_.push_back({tokens_[k].begin, tokens_[k].end, to});
      }
    }
  }

  bool Covered(size_t pos) const {
    for (const Edit& e : edits_) {
      if (pos >= e.begin && pos < e.end) return true;
    }
    return false;
  }

  std::string Apply() {
    std::sort(edits_.begin(), edits_.end(),
              [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    std::string out;
    size_t at = 0;
    for (const Edit& e : edits_) {
      if (e.begin < at) continue;  // inside an edit already made
      absl::StrAppend(&out, sql_.substr(at, e.begin - at), e.text);
      at = e.end;
    }
    absl::StrAppend(&out, sql_.substr(at));
    return out;
  }

  absl::string_view sql_;
  const Translation& how_;
  std::vector<Token> tokens_;
  std::vector<Edit> edits_;
  std::vector<size_t> done_arrays_;
};

}  // namespace

absl::StatusOr<std::string> TranslateDefinition(absl::string_view sql, const Translation& how) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  if (!tokens.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the definition (", tokens.status().message(), "): ", sql));
  }
  return Translator(sql, how, *std::move(tokens)).Run();
}

std::vector<std::string> LabelsNamed(absl::string_view sql, const Translation& how) {
  std::vector<std::string> labels;
  AddUnique(labels, LabelOccurrences(sql, how));
  return labels;
}

std::vector<std::string> LabelOccurrences(absl::string_view sql, const Translation& how) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  if (!tokens.ok()) return {};
  return Translator(sql, how, *std::move(tokens)).Occurrences();
}

std::vector<std::string> UnrecognisedLabelText(absl::string_view sql, const Translation& how) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  if (!tokens.ok()) return {};
  return Translator(sql, how, *std::move(tokens)).Unrecognised();
}

}  // namespace booking::migrator
