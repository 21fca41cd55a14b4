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
#include "pqxx/types.hxx"

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

// The select list of StoredRow: kContentColumns, then "rowHash" as row_hash.
std::string StoredRowColumns();

// Where a result holds StoredRowColumns(), found by name once per result
// (or for one row); throws pqxx::argument_error naming a column it lacks.
struct StoredRowLayout {
  explicit StoredRowLayout(const pqxx::result& r);
  explicit StoredRowLayout(const pqxx::row& row);

  ContentLayout content;
  pqxx::row_size_type row_hash = 0;
};

// A row of StoredRowColumns(), its columns where `at` says.
StoredRow ReadStoredRow(const pqxx::row& row, const StoredRowLayout& at);
// The same for a row read alone (its columns found for it).
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
