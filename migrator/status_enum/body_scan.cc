#include "migrator/status_enum/body_scan.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {
namespace {

constexpr int kMaxNesting = 8;

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A dollar-quote tag starting at `at` ("$$" or "$name$"), or empty.
std::string DollarTag(absl::string_view s, size_t at) {
  if (s[at] != '$') return "";
  size_t end = at + 1;
  while (end < s.size() && (IsWordChar(s[end]) && !(end == at + 1 && std::isdigit(s[end])))) {
    ++end;
  }
  if (end >= s.size() || s[end] != '$') return "";
  return std::string(s.substr(at, end - at + 1));
}

// The single-quoted literal opening at `at` (E'...' when `escapes`); moves
// `at` past it.
std::string Quoted(absl::string_view s, size_t& at, bool escapes) {
  std::string out;
  for (++at; at < s.size(); ++at) {
    if (escapes && s[at] == '\\' && at + 1 < s.size()) {
      out.push_back(s[++at]);
    } else if (s[at] == '\'') {
      if (at + 1 < s.size() && s[at + 1] == '\'') {
        out.push_back('\'');
        ++at;
      } else {
        ++at;
        break;
      }
    } else {
      out.push_back(s[at]);
    }
  }
  return out;
}

void Collect(absl::string_view s, int depth, std::vector<std::string>& out);

void Add(const std::string& literal, int depth, std::vector<std::string>& out) {
  out.push_back(literal);
  if (depth < kMaxNesting) Collect(literal, depth + 1, out);  // dynamic SQL inside
}

void Collect(absl::string_view s, int depth, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      i = s.find('\n', i);
      if (i == absl::string_view::npos) return;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      i = s.find("*/", i + 2);
      if (i == absl::string_view::npos) return;
      i += 2;
    } else if (c == '"') {
      i = s.find('"', i + 1);
      if (i == absl::string_view::npos) return;
      ++i;
    } else if (c == '\'') {
      const bool escapes =
          i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') && (i < 2 || !IsWordChar(s[i - 2]));
      Add(Quoted(s, i, escapes), depth, out);
    } else if (const std::string tag = DollarTag(s, i); !tag.empty()) {
      const size_t end = s.find(tag, i + tag.size());
      const size_t stop = end == absl::string_view::npos ? s.size() : end;
      Add(std::string(s.substr(i + tag.size(), stop - i - tag.size())), depth, out);
      i = stop == s.size() ? stop : stop + tag.size();
    } else {
      ++i;
    }
  }
}

bool ContainsWord(absl::string_view text, absl::string_view word) {
  for (size_t at = text.find(word); at != absl::string_view::npos; at = text.find(word, at + 1)) {
    const bool left = at == 0 || !IsWordChar(text[at - 1]);
    const size_t after = at + word.size();
    if (left && (after >= text.size() || !IsWordChar(text[after]))) return true;
  }
  return false;
}

// LIKE's pattern as a regular expression (% any run, _ one character, \ escapes).
std::string LikeToRegex(absl::string_view pattern) {
  std::string re = "^";
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      re += absl::StrCat("\\", std::string(1, pattern[++i]));
    } else if (c == '%') {
      re += ".*";
    } else if (c == '_') {
      re += ".";
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      re.push_back(c);
    } else {
      re += absl::StrCat("\\", std::string(1, c));
    }
  }
  return re + "$";
}

bool RegexMatches(const std::string& re, const std::string& label) {
  try {
    return std::regex_search(label, std::regex(re, std::regex::ECMAScript | std::regex::icase));
  } catch (const std::regex_error&) {
    return false;
  }
}

int Letters(absl::string_view s) {
  return static_cast<int>(std::count_if(
      s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }));
}

}  // namespace

std::vector<std::string> StringLiterals(absl::string_view source) {
  std::vector<std::string> out;
  Collect(source, 0, out);
  return out;
}

std::vector<std::string> OldLabelsMatched(absl::string_view literal) {
  std::vector<std::string> out;
  if (Letters(literal) < 2) return out;  // '%', '%s': patterns of anything
  const std::string upper = absl::AsciiStrToUpper(literal);
  const bool word = literal.size() >= 4 && std::all_of(literal.begin(), literal.end(), [](char c) {
                      return std::isupper(static_cast<unsigned char>(c)) || c == '_';
                    });
  const bool like = absl::StrContains(literal, "%") || absl::StrContains(literal, "_");
  const bool regex = literal.find_first_of("^$.*+?[]|(){}\\") != absl::string_view::npos;
  for (const std::string& label : OldOnlyLabels()) {
    const bool matched = ContainsWord(literal, label) ||
                         (word && absl::StrContains(label, literal)) ||
                         (like && RegexMatches(LikeToRegex(upper), label)) ||
                         (regex && RegexMatches(std::string(literal), label));
    if (matched) out.push_back(label);
  }
  return out;
}

std::vector<std::string> OldLabelTextIn(absl::string_view source) {
  std::vector<std::string> out;
  for (const std::string& literal : StringLiterals(source)) {
    const std::vector<std::string> labels = OldLabelsMatched(literal);
    if (labels.empty()) continue;
    const bool exact = labels.size() == 1 && labels[0] == literal;
    std::string said = absl::StrCat("'", literal.substr(0, 80), "'");
    if (!exact) absl::StrAppend(&said, " (matches ", absl::StrJoin(labels, ", "), ")");
    if (std::find(out.begin(), out.end(), said) == out.end()) out.push_back(said);
  }
  return out;
}

}  // namespace booking::migrator
