// Checks of tamper evidence, shared by history-service (VerifyHistory) and
// the offline history-verify command: a booking's rows against their hash
// chain, and against the head a signed checkpoint holds for it. The first
// row that does not verify is named by booking and sequence.
#ifndef HISTORY_SERVICE_VERIFY_H_
#define HISTORY_SERVICE_VERIFY_H_

#include <optional>
#include <string>
#include <vector>

#include "common/pqxx_fwd.h"
#include "history-service/merkle.h"
#include "history-service/row_content.h"

namespace booking {

struct StoredRow {
  RowContent content;
  std::optional<std::string> row_hash;  // NULL: never hashed by history-service
};

struct Finding {
  std::string booking_id;
  int64_t sequence = 0;
  std::string problem;
};

// The columns of StoredRow (kContentColumns, then "rowHash"); ReadStoredRow
// reads them.
std::string StoredRowColumns();
StoredRow ReadStoredRow(const pqxx::row& row);

// One booking's rows, in sequence order: each row's hash must be SHA-256 of
// the previous row's stored hash and its content. An edited row fails at
// itself; a deleted or reordered one at the row after it.
std::optional<Finding> CheckChain(const std::vector<StoredRow>& rows);

// The booking's rows must still hold the head `signed_head` (from a
// checkpoint whose root was checked): that row exists with that hash.
std::optional<Finding> CheckHead(const std::vector<StoredRow>& rows, const Head& signed_head);

}  // namespace booking

#endif  // HISTORY_SERVICE_VERIFY_H_
