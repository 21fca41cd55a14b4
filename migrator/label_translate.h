// Rewrites the enum literals of SQL text that PostgreSQL printed
// (pg_get_expr, pg_get_viewdef, pg_get_indexdef, column defaults), so that an
// index predicate, a view or a default written against one label set means
// the same against another: 'IN_WORKSHOP'::"BookingStatus" becomes
// 'AT_WORKSHOP'::"BookingStatus_new" or, where one old label stands for
// several new ones, a comparison with all of them.
#ifndef MIGRATOR_LABEL_TRANSLATE_H_
#define MIGRATOR_LABEL_TRANSLATE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::migrator {

// The labels of the target set that `label` stands for (one or more).
using LabelMap = std::function<std::vector<std::string>(absl::string_view label)>;

// Every literal 'L'::<from_type> in `sql` becomes the literal(s) map(L) cast
// to <to_type>. A literal standing for several labels is rewritten where
// PostgreSQL prints comparisons: `= 'L'::T` -> `= ANY (ARRAY[...])`,
// `<> 'L'::T` -> `<> ALL (ARRAY[...])`, and inside ARRAY[...] lists. Anywhere
// else it cannot keep its meaning: FAILED_PRECONDITION naming it.
// Type names are given as PostgreSQL prints them (e.g. "\"BookingStatus\"").
absl::StatusOr<std::string> TranslateLabels(absl::string_view sql, absl::string_view from_type,
                                            absl::string_view to_type, const LabelMap& map);

// Old label -> the new labels whose rollback label it is (IN_WORKSHOP ->
// AT_WORKSHOP, IN_SERVICE); a new label -> itself.
std::vector<std::string> ForwardPreimage(absl::string_view label);
// New label -> its old label (AT_WORKSHOP -> IN_WORKSHOP); an old label ->
// itself.
std::vector<std::string> ReverseImage(absl::string_view label);

}  // namespace booking::migrator

#endif  // MIGRATOR_LABEL_TRANSLATE_H_
