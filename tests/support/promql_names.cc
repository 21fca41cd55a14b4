#include "tests/support/promql_names.h"

#include <cctype>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace booking::testing {
namespace {

bool IdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IdentChar(char c) { return IdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Past the quoted string starting at `i`.
size_t SkipString(const std::string& s, size_t i) {
  const char quote = s[i++];
  while (i < s.size() && s[i] != quote) i += s[i] == '\\' && quote != '`' ? 2 : 1;
  return i + 1;
}

// Past the bracket opened at `i`, strings inside skipped.
size_t SkipGroup(const std::string& s, size_t i, char open, char close) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
      i = SkipString(s, i) - 1;
    } else if (s[i] == open) {
      ++depth;
    } else if (s[i] == close && --depth == 0) {
      return i + 1;
    }
  }
  return i;
}

size_t SkipSpaces(const std::string& s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

const std::set<std::string>& Keywords() {
  static const std::set<std::string> kWords = {
      "sum",    "min",          "max",     "avg",  "group",    "stddev", "stdvar",
      "count",  "count_values", "bottomk", "topk", "quantile", "and",    "or",
      "unless", "bool",         "offset",  "inf",  "nan",      "atan2"};
  return kWords;
}

// Keywords followed by a list of label names.
bool TakesLabelList(const std::string& word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" ||
         word == "group_left" || word == "group_right";
}

}  // namespace

std::set<std::string> MetricNamesIn(const std::string& expr) {
  std::set<std::string> names;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = SkipString(expr, i);
    } else if (c == '{') {
      i = SkipGroup(expr, i, '{', '}');
    } else if (c == '[') {
      i = SkipGroup(expr, i, '[', ']');
    } else if (c == '$') {  // a Grafana variable
      ++i;
      if (i < expr.size() && expr[i] == '{') i = SkipGroup(expr, i, '{', '}');
      while (i < expr.size() && IdentChar(expr[i])) ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < expr.size() &&
             (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.')) {
        ++i;  // 0.005, 1e3, 5m
      }
    } else if (IdentStart(c)) {
      const size_t start = i;
      while (i < expr.size() && IdentChar(expr[i])) ++i;
      const std::string word = expr.substr(start, i - start);
      const size_t next = SkipSpaces(expr, i);
      const bool call = next < expr.size() && expr[next] == '(';
      if (TakesLabelList(word) && call) {
        i = SkipGroup(expr, next, '(', ')');
      } else if (!call && !TakesLabelList(word) && Keywords().count(word) == 0) {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

std::vector<std::string> RuleExpressions(const std::string& yaml) {
  std::vector<std::string> exprs;
  std::istringstream in(yaml);
  std::string line;
  bool more = static_cast<bool>(std::getline(in, line));
  while (more) {
    const size_t indent = line.find_first_not_of(" -");
    const std::string body = indent == std::string::npos ? "" : line.substr(indent);
    if (!absl::StartsWith(body, "expr:")) {
      more = static_cast<bool>(std::getline(in, line));
      continue;
    }
    std::string value(absl::StripAsciiWhitespace(body.substr(5)));
    more = static_cast<bool>(std::getline(in, line));
    if (value == "|" || value == "|-" || value == ">" || value == ">-") {
      value.clear();
      while (more &&
             (absl::StripAsciiWhitespace(line).empty() || line.find_first_not_of(' ') > indent)) {
        absl::StrAppend(&value, absl::StripAsciiWhitespace(line), "\n");
        more = static_cast<bool>(std::getline(in, line));
      }
    } else if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'')) {
      value = value.substr(1, value.size() - 2);  // no escapes in this project's rules
    }
    exprs.push_back(value);
  }
  return exprs;
}

}  // namespace booking::testing
