#include "history-service/log_reads.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"
#include "history-service/log_checkpoint.h"
#include "history-service/log_tree.h"
#include "history-service/verify.h"
#include "history-service/verify_booking.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr char kDomain[] = "history.v1";

absl::Status NoCheckpointYet() {
  return RpcError(absl::StatusCode::kNotFound,
                  "the log has no signed checkpoint yet: history-service signs one every "
                  "--log-checkpoint-interval once it runs with --checkpoint-key and holds rows")
      .Info("NO_LOG_CHECKPOINT", kDomain);
}

// OK when a signed checkpoint covers `size` (the request's `field`).
absl::Status WithinNewestCheckpoint(pqxx::transaction_base& txn, const char* field, int64_t size) {
  absl::StatusOr<std::optional<LogCheckpoint>> newest = NewestLogCheckpoint(txn);
  if (!newest.ok()) return newest.status();
  if (!*newest) return NoCheckpointYet();
  if (static_cast<uint64_t>(size) <= (*newest)->size) return absl::OkStatus();
  return RpcError(absl::StatusCode::kOutOfRange,
                  absl::StrCat(field, " ", size, " is beyond the newest log checkpoint, of size ",
                               (*newest)->size, ": ask for a size a checkpoint signed"))
      .FieldViolation(field, absl::StrCat("at most ", (*newest)->size))
      .Info("BEYOND_LOG_CHECKPOINT", kDomain);
}

absl::Status LeafLost(int64_t index, const std::string& what) {
  return RpcError(absl::StatusCode::kDataLoss,
                  absl::StrCat("the log's leaf ", index, " ", what,
                               ": the store was altered; `history-verify verify` names what"))
      .Info("LOG_ENTRY_LOST", kDomain);
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
  if (absl::Status s = WithinNewestCheckpoint(txn, "new_size", request.new_size()); !s.ok()) {
    return s;
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

absl::StatusOr<history::v1::GetLogEntriesResponse> ReadLogEntries(
    pqxx::transaction_base& txn, const history::v1::GetLogEntriesRequest& request, int limit) {
  if (request.start() < 0) {
    return InvalidField("start", absl::StrCat("must be at least 0 (got ", request.start(),
                                              "): the size of a checkpoint you trust"));
  }
  if (request.end() <= request.start()) {
    return InvalidField(
        "end", absl::StrCat("must be above start ", request.start(), " (got ", request.end(), ")"));
  }
  if (absl::Status s = WithinNewestCheckpoint(txn, "end", request.end()); !s.ok()) return s;
  const int64_t to = std::min(request.end(), request.start() + limit);
  history::v1::GetLogEntriesResponse out;
  const pqxx::result rows = txn.exec(LeafRowsQuery(
      absl::StrCat(R"("leafIndex" >= )", request.start(), R"( AND "leafIndex" < )", to),
      "l.leaf_index"));
  const StoredRowLayout at(rows);
  int64_t next = request.start();
  for (const pqxx::row& row : rows) {
    const int64_t index = row["leaf_index"].as<int64_t>();
    if (index != next) return LeafLost(next, "is missing from the store");
    if (row["gone"].as<bool>()) {
      return LeafLost(
          index, absl::StrCat("names booking ", row["leaf_booking"].as<std::string>(), " sequence ",
                              row["leaf_sequence"].as<int64_t>(), ", a row gone from the store"));
    }
    ToVerifiedRow(ReadStoredRow(row, at), out.add_rows());
    ++next;
  }
  if (next != to) return LeafLost(next, "is missing from the store");
  if (request.start() > 0) {
    absl::StatusOr<std::vector<tlog::Hash>> range =
        StoredCompactRange(txn, static_cast<uint64_t>(request.start()));
    if (!range.ok()) return range.status();
    for (const tlog::Hash& h : *range) out.add_start_range(tlog::HashToBytes(h));
  }
  return out;
}

}  // namespace booking
