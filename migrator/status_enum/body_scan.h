// Function bodies are text PostgreSQL does not parse into anything the
// migrator can rewrite (PL/pgSQL, SQL in $$ ... $$): what they do with a
// status label is found by their string literals. A literal that is an old
// label, holds one, is a word of one long enough to be meant (4 characters
// or more), or is a LIKE or regular-expression pattern matching one, marks
// the body as depending on the old labels. Pure.
#ifndef MIGRATOR_STATUS_ENUM_BODY_SCAN_H_
#define MIGRATOR_STATUS_ENUM_BODY_SCAN_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace booking::migrator {

// Every string literal of `source` ('...', E'...', $tag$...$tag$, nested
// ones too), unescaped.
std::vector<std::string> StringLiterals(absl::string_view source);

// The old-only labels `literal` names or matches (see above); empty if none.
std::vector<std::string> OldLabelsMatched(absl::string_view literal);

// The literals of `source` that name or match old-only labels, each quoted
// once: "'IN\_%' (matches IN_WORKSHOP, IN_TRANSIT_TO_WORKSHOP, ...)".
std::vector<std::string> OldLabelTextIn(absl::string_view source);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_BODY_SCAN_H_
