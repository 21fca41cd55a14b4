// Rewrites the status labels that definitions printed by PostgreSQL name
// (pg_get_viewdef, pg_get_indexdef, pg_get_constraintdef, pg_get_triggerdef,
// pg_get_ruledef, policy and default expressions), so that a view, a
// predicate or a default written for one phase's labels answers the same in
// another phase:
//
//   status = 'IN_WORKSHOP'::"BookingStatus"              (original)
//   status = ANY (ARRAY['IN_WORKSHOP'::"BookingStatus",
//                       'AT_WORKSHOP'::"BookingStatus",
//                       'IN_SERVICE'::"BookingStatus"])   (widened, expand)
//   status = ANY (ARRAY['AT_WORKSHOP'::..., 'IN_SERVICE'::...])  (contract)
//
// Recognised: enum literals compared with = or <> (either side), in
// = ANY / <> ALL arrays and array literals, used as values (one label for
// one label), and text literals compared with a column of the type cast to
// text ((status)::text = 'IN_WORKSHOP'::text). A literal that must stand for
// several labels where that cannot be written (a simple CASE, IS DISTINCT
// FROM, the left side of =) and any ordering comparison (label order differs
// between the sets) is refused: FAILED_PRECONDITION saying what to change.
#ifndef MIGRATOR_STATUS_ENUM_TRANSLATE_H_
#define MIGRATOR_STATUS_ENUM_TRANSLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {

struct Translation {
  DefinitionMode mode = DefinitionMode::kWiden;
  // The enum type as PostgreSQL prints it here, e.g. "\"BookingStatus\"".
  std::string type;
  // Casts to `type` become casts to this (empty: unchanged).
  std::string target_type;
  // Columns of the type as printed (quoted as needed), for ::text
  // comparisons; and, when `column_renames` is set, identifiers to rename.
  std::vector<std::string> columns;
  // Pairs (printed column, replacement): every identifier token equal to
  // the first becomes the second (for definitions moved to a shadow column).
  std::vector<std::pair<std::string, std::string>> column_renames;
};

// The definition rewritten, or FAILED_PRECONDITION naming the construct.
absl::StatusOr<std::string> TranslateDefinition(absl::string_view sql, const Translation& how);

// Every label the definition names (enum literals of `type`, text literals
// compared with its columns), in order of appearance, each once.
std::vector<std::string> LabelsNamed(absl::string_view sql, const Translation& how);

// Every label literal it would rewrite (enum literals of `type`, text
// literals compared with its columns as text), one entry per occurrence.
std::vector<std::string> LabelOccurrences(absl::string_view sql, const Translation& how);

// Text literals equal to an old-only label that the definition names
// outside any recognised comparison (a LIKE, a function argument): not
// rewritten, reported so an operator can check them.
std::vector<std::string> UnrecognisedLabelText(absl::string_view sql, const Translation& how);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_TRANSLATE_H_
