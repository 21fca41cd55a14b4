// The log's checkpoints (issue 22): the tree's size and root
// (history-service/log_tree.h) in the C2SP tlog-checkpoint format, signed as
// a C2SP signed note with Ed25519 under the log's origin
// (common/tlog/checkpoint.h), kept in "HistoryLogCheckpoint" (append only,
// schema step 0012).
//
// Signing costs O(log n), never the store's size: the tree row and the
// O(log n) tiles of the consistency proof from the newest checkpoint, which
// the signer checks before it signs (a tree altered in the store, shrunk or
// forked, is refused with kDataLoss and nothing is signed). Everything a
// checkpoint covers is committed: the tree row is written in the same
// transaction as the leaves it counts.
//
// Thread safety: free functions over the caller's transaction; concurrent
// signers (replicas) serialize on an advisory lock.
#ifndef HISTORY_SERVICE_LOG_CHECKPOINT_H_
#define HISTORY_SERVICE_LOG_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "common/tlog/merkle.h"
#include "common/tlog/note_key.h"

namespace booking {

struct LogCheckpoint {
  uint64_t size = 0;
  tlog::Hash root{};
  std::string note;  // the signed note, as a client verifies it
};

// Signs and keeps a checkpoint of the tree as it is; none (nullopt) when it
// did not grow since the newest one.
absl::StatusOr<std::optional<LogCheckpoint>> SignLogCheckpoint(pqxx::transaction_base& txn,
                                                               const tlog::NoteSigner& signer);
// The newest checkpoint kept; none before the first. `bound` (a
// DeadlineBoundStatement) is sent in the same message as the query.
absl::StatusOr<std::optional<LogCheckpoint>> NewestLogCheckpoint(pqxx::transaction_base& txn,
                                                                 const std::string& bound = "");
// Its query and the reading of its result, apart: for a caller that sends
// the query in one message with its other reads (VerifyBooking).
extern const char kNewestLogCheckpointQuery[];
absl::StatusOr<std::optional<LogCheckpoint>> ReadNewestLogCheckpoint(const pqxx::result& r);

}  // namespace booking

#endif  // HISTORY_SERVICE_LOG_CHECKPOINT_H_
