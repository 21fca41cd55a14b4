#include "history-service/log_reads.h"

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"
#include "history-service/log_checkpoint.h"
#include "history-service/log_tree.h"

namespace booking {
namespace {

constexpr char kDomain[] = "history.v1";

absl::Status NoCheckpointYet() {
  return RpcError(absl::StatusCode::kNotFound,
                  "the log has no signed checkpoint yet: history-service signs one every "
                  "--log-checkpoint-interval once it runs with --checkpoint-key and holds rows")
      .Info("NO_LOG_CHECKPOINT", kDomain);
}

}  // namespace

absl::StatusOr<history::v1::LogCheckpoint> ReadLogCheckpoint(pqxx::transaction_base& txn,
                                                             const std::string& bound) {
  absl::StatusOr<std::optional<LogCheckpoint>> newest = NewestLogCheckpoint(txn, bound);
  if (!newest.ok()) return newest.status();
  if (!*newest) return NoCheckpointYet();
  history::v1::LogCheckpoint out;
  out.set_note((*newest)->note);
  out.set_size(static_cast<int64_t>((*newest)->size));
  out.set_root(tlog::HashToBytes((*newest)->root));
  return out;
}

absl::StatusOr<history::v1::ConsistencyProof> ReadConsistencyProof(
    pqxx::transaction_base& txn, const history::v1::GetConsistencyProofRequest& request) {
  if (request.old_size() < 1) {
    return InvalidField("old_size", absl::StrCat("must be at least 1 (got ", request.old_size(),
                                                 "): every tree extends the empty one"));
  }
  if (request.new_size() < request.old_size()) {
    return InvalidField("new_size", absl::StrCat("must be at least old_size ", request.old_size(),
                                                 " (got ", request.new_size(), ")"));
  }
  absl::StatusOr<std::optional<LogCheckpoint>> newest = NewestLogCheckpoint(txn);
  if (!newest.ok()) return newest.status();
  if (!*newest) return NoCheckpointYet();
  if (static_cast<uint64_t>(request.new_size()) > (*newest)->size) {
    return RpcError(absl::StatusCode::kOutOfRange,
                    absl::StrCat("new_size ", request.new_size(),
                                 " is beyond the newest log checkpoint, of size ", (*newest)->size,
                                 ": ask for a size a checkpoint signed"))
        .FieldViolation("new_size", absl::StrCat("at most ", (*newest)->size))
        .Info("BEYOND_LOG_CHECKPOINT", kDomain);
  }
  const auto old_size = static_cast<uint64_t>(request.old_size());
  const auto new_size = static_cast<uint64_t>(request.new_size());
  history::v1::ConsistencyProof out;
  out.set_old_size(request.old_size());
  out.set_new_size(request.new_size());
  if (old_size == new_size) return out;
  absl::StatusOr<std::vector<tlog::Hash>> proof = StoredConsistencyProof(txn, old_size, new_size);
  if (!proof.ok()) return proof.status();
  for (const tlog::Hash& h : *proof) out.add_hashes(tlog::HashToBytes(h));
  return out;
}

}  // namespace booking
