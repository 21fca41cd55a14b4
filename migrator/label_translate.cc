#include "migrator/label_translate.h"

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_catalog.h"

namespace booking::migrator {
namespace {

std::string Literal(absl::string_view label, absl::string_view type) {
  return absl::StrCat("'", label, "'::", type);
}

std::string Literals(const std::vector<std::string>& labels, absl::string_view type) {
  return absl::StrJoin(labels, ", ", [&](std::string* out, const std::string& l) {
    absl::StrAppend(out, Literal(l, type));
  });
}

// True when position `pos` of `sql` is inside an ARRAY[...] literal list.
bool InsideArray(const std::string& sql, size_t pos) {
  int depth = 0;
  size_t i = 0;
  while (i < pos) {
    if (sql.compare(i, 6, "ARRAY[") == 0) {
      ++depth;
      i += 6;
      continue;
    }
    if (sql[i] == ']' && depth > 0) --depth;
    if (sql[i] == '\'') {  // skip string literals
      i = sql.find('\'', i + 1);
      if (i == std::string::npos) return false;
    }
    ++i;
  }
  return depth > 0;
}

std::string RegexEscape(absl::string_view s) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(std::string(s), kSpecial, R"(\$&)");
}

}  // namespace

absl::StatusOr<std::string> TranslateLabels(absl::string_view sql, absl::string_view from_type,
                                            absl::string_view to_type, const LabelMap& map) {
  const std::string type = RegexEscape(from_type);
  // Enum order differs between label sets: an ordering comparison has no
  // faithful translation.
  std::smatch ordering;
  const std::string original(sql);
  if (std::regex_search(original, ordering,
                        std::regex("(^|[^<>])(<=|>=|<|>) '([^']*)'::" + type))) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot translate the ordering comparison ", ordering[0].str(), " in: ", sql,
                     " (label order differs between the sets); rewrite that definition by hand"));
  }
  // 1. Scalar comparisons: `= 'L'::T` and `<> 'L'::T`.
  const std::regex scalar("([^<>]|^)(=|<>) '([^']*)'::" + type);
  std::string out;
  std::string text(sql);
  auto begin = std::sregex_iterator(text.begin(), text.end(), scalar);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const size_t pos = static_cast<size_t>(m.position(0));
    out.append(text, last, pos - last);
    out.append(m[1].str());
    const std::vector<std::string> labels = map(m[3].str());
    const std::string op = m[2].str();
    if (labels.size() == 1) {
      absl::StrAppend(&out, op, " ", Literal(labels[0], to_type));
    } else {
      absl::StrAppend(&out, op, op == "=" ? " ANY (ARRAY[" : " ALL (ARRAY[",
                      Literals(labels, to_type), "])");
    }
    last = pos + static_cast<size_t>(m.length(0));
  }
  out.append(text, last, std::string::npos);

  // 2. Every other literal: inside arrays any number of labels fits; elsewhere
  //    only one.
  const std::regex literal("'([^']*)'::" + type);
  std::string result;
  last = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), literal);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const size_t pos = static_cast<size_t>(m.position(0));
    result.append(out, last, pos - last);
    const std::vector<std::string> labels = map(m[1].str());
    if (labels.size() != 1 && !InsideArray(out, pos)) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot translate ", m[0].str(), " in: ", sql,
                       " (it stands for several labels here); rewrite that definition by hand"));
    }
    result.append(Literals(labels, to_type));
    last = pos + static_cast<size_t>(m.length(0));
  }
  result.append(out, last, std::string::npos);
  return result;
}

std::vector<std::string> ForwardPreimage(absl::string_view label) {
  if (ParseStatus(label)) return {std::string(label)};
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) {
    if (ReverseLabel(s) == label) labels.emplace_back(Label(s));
  }
  if (labels.empty()) labels.emplace_back(label);  // unknown: left as it is
  return labels;
}

std::vector<std::string> ReverseImage(absl::string_view label) {
  if (auto s = ParseStatus(label)) return {std::string(ReverseLabel(*s))};
  return {std::string(label)};
}

}  // namespace booking::migrator
