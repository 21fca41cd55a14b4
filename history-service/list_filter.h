// ListHistory's filter: a small subset of AIP-160. Comparisons joined by
// AND, nothing else (no OR, NOT, parentheses or functions), so that every
// filter is one index range: changed_by, to_status and from_status compared
// with = to a string, create_time compared with <, <=, > or >= to an RFC 3339
// time within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z
// (common/input_check.h). A value is "quoted" (\" and \\ escape) or a bare word.
#ifndef HISTORY_SERVICE_LIST_FILTER_H_
#define HISTORY_SERVICE_LIST_FILTER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

// What the parser accepts, for error messages and docs.
extern const char kListFilterHelp[];

struct TimeBound {
  int64_t micros = 0;  // since 1970, UTC
  bool inclusive = false;
};

struct ListFilter {
  // from_status "" selects each booking's first entry (stored without one).
  std::optional<std::string> changed_by;
  std::optional<std::string> to_status;
  std::optional<std::string> from_status;
  std::optional<TimeBound> after;   // create_time > or >=
  std::optional<TimeBound> before;  // create_time < or <=

  // Equal for filters that select the same entries however they were
  // written: what a page token is bound to.
  std::string Canonical() const;
};

// The parsed filter; "" (or only spaces) is the empty filter. Anything
// outside the subset is INVALID_ARGUMENT with a BadRequest violation on
// `filter` saying what is supported, and ErrorInfo INVALID_FILTER.
absl::StatusOr<ListFilter> ParseListFilter(absl::string_view text);

}  // namespace booking

#endif  // HISTORY_SERVICE_LIST_FILTER_H_
