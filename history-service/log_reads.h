// The log's reads that clients call (issue 22): the newest signed
// checkpoint, and a consistency proof between two sizes of the tree, from
// the store's tiles (history-service/log_tree.h). Each costs O(log n).
//
// Errors (google.rpc details, common/rpc_error.h): NOT_FOUND before the first
// checkpoint; INVALID_ARGUMENT (BadRequest naming the field) for a size below
// 1 or an old size above the new one; OUT_OF_RANGE for a new size beyond the
// newest checkpoint (only signed sizes are proved); DATA_LOSS when the
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

}  // namespace booking

#endif  // HISTORY_SERVICE_LOG_READS_H_
