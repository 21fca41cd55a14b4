#include "common/shell_quote.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace booking {
namespace {

bool IsPlain(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("@%+=:,./-_").find(c) != absl::string_view::npos;
}

}  // namespace

std::string ShellQuote(absl::string_view word) {
  if (word.empty()) return "''";
  bool plain = true;
  for (char c : word) plain = plain && IsPlain(c);
  if (plain) return std::string(word);
  return "'" + absl::StrReplaceAll(word, {{"'", "'\"'\"'"}}) + "'";
}

std::string ShellCommand(const std::vector<std::string>& words) {
  return absl::StrJoin(
      words, " ", [](std::string* out, const std::string& word) { out->append(ShellQuote(word)); });
}

}  // namespace booking
