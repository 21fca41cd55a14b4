// The log's reads that clients call (issue 22): the newest signed
// checkpoint, a consistency proof between two sizes of the tree, from the
// store's tiles (history-service/log_tree.h), each O(log n); and the log's
// entries between two sizes with the compact range a follower checks them
// by, O(page + log n).
//
// Errors (google.rpc details, common/rpc_error.h): NOT_FOUND before the first
// checkpoint; INVALID_ARGUMENT (BadRequest naming the field) for a size below
// 1 or an old size above the new one (a start below 0, an end not above
// start); OUT_OF_RANGE for a new size (an end) beyond the newest checkpoint
// (only signed sizes are proved); DATA_LOSS when the
// store's tiles cannot give the proof.
// Thread safety: free functions over the caller's transaction.
#ifndef HISTORY_SERVICE_LOG_READS_H_
#define HISTORY_SERVICE_LOG_READS_H_

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history/v1/history.pb.h"

namespace booking {

absl::StatusOr<history::v1::LogCheckpoint> ReadLogCheckpoint(pqxx::transaction_base& txn,
                                                             const std::string& bound);

absl::StatusOr<history::v1::ConsistencyProof> ReadConsistencyProof(
    pqxx::transaction_base& txn, const history::v1::GetConsistencyProofRequest& request);

// Up to `limit` leaves from request.start on, below request.end (at most the
// newest checkpoint's size), each its stored row; the compact range at start.
// DATA_LOSS naming the leaf when its row is gone from the store or the leaf
// itself is missing.
absl::StatusOr<history::v1::GetLogEntriesResponse> ReadLogEntries(
    pqxx::transaction_base& txn, const history::v1::GetLogEntriesRequest& request, int limit);

}  // namespace booking

#endif  // HISTORY_SERVICE_LOG_READS_H_
