// Commands echoed for an operator to paste ("next: run migrator backfill
// ..."): each word quoted so that bash reads it back as exactly that word,
// whatever it holds (spaces, quotes, $, backslashes, newlines). Pure.
#ifndef BOOKING_COMMON_SHELL_QUOTE_H_
#define BOOKING_COMMON_SHELL_QUOTE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace booking {

// `word` as one shell word: unchanged when it holds only characters no
// shell treats specially (letters, digits and @%+=:,./-_), else in single
// quotes, each ' in it written '"'"' (as Python's shlex.quote). "" is ''.
std::string ShellQuote(absl::string_view word);

// The words quoted and joined by spaces: a command line bash splits back
// into exactly `words`.
std::string ShellCommand(const std::vector<std::string>& words);

}  // namespace booking

#endif  // BOOKING_COMMON_SHELL_QUOTE_H_
