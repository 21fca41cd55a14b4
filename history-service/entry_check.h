// A client's check that an entry it is shown is the entry it verified: the
// proofs (chain hash, inclusion in the log) cover a row's canonical bytes
// (row_content.h, Canonical), and a response carries those bytes beside the
// entry's fields; a server could prove one row and show another. This reads
// the canonical bytes back, strictly (every field, exact lengths, decimal
// numbers without sign or leading zero, nothing after), and compares each
// field the entry shows.
//
// Thread safety: free functions of their arguments.
#ifndef HISTORY_SERVICE_ENTRY_CHECK_H_
#define HISTORY_SERVICE_ENTRY_CHECK_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "history-service/row_content.h"
#include "history/v1/history.pb.h"

namespace booking {

// The content Canonical(c) was made of: INVALID_ARGUMENT naming what is
// malformed otherwise. ParseCanonical(Canonical(c)) == c for every c.
absl::StatusOr<RowContent> ParseCanonical(absl::string_view canonical);

// OK when `entry` shows exactly the row `canonical` encodes (a NULL shown as
// an empty text, the metadata as the same JSON object, the create time to
// the microsecond); DATA_LOSS naming the first field that differs, or what
// is malformed in `canonical` (bytes a server proves are not a row).
absl::Status CheckEntryShowsCanonical(const history::v1::HistoryEntry& entry,
                                      absl::string_view canonical);

}  // namespace booking

#endif  // HISTORY_SERVICE_ENTRY_CHECK_H_
