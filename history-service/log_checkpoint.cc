#include "history-service/log_checkpoint.h"

#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "common/tlog/checkpoint.h"
#include "history-service/log_tree.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// One signer at a time: class "HC" (checkpoints), key 2.
constexpr char kSignerLock[] = "SELECT pg_advisory_xact_lock(18515, 2)";

absl::StatusOr<std::optional<LogCheckpoint>> Newest(pqxx::transaction_base& txn,
                                                    const std::string& bound = "") {
  return ReadNewestLogCheckpoint(
      txn.exec(absl::StrCat(bound, bound.empty() ? "" : "; ", kNewestLogCheckpointQuery)));
}

// OK when the tree `head` extends the checkpoint `newest` (proved from the
// stored tiles, as a witness would).
absl::Status CheckExtends(pqxx::transaction_base& txn, const LogCheckpoint& newest,
                          const TreeHead& head) {
  if (head.size < newest.size) {
    return absl::DataLossError(absl::StrCat("the tree holds ", head.size,
                                            " leaves, fewer than the checkpoint of ", newest.size,
                                            " signed before: the log was rolled back"));
  }
  absl::StatusOr<std::vector<tlog::Hash>> proof =
      StoredConsistencyProof(txn, newest.size, head.size);
  if (!proof.ok()) return proof.status();
  if (absl::Status s =
          tlog::VerifyConsistency(newest.size, head.size, newest.root, head.root, *proof);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("the tree of ", head.size,
                                            " leaves does not extend the checkpoint of ",
                                            newest.size, " signed before: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

const char kNewestLogCheckpointQuery[] =
    R"(SELECT size, root, note FROM "HistoryLogCheckpoint" ORDER BY size DESC LIMIT 1)";

absl::StatusOr<std::optional<LogCheckpoint>> ReadNewestLogCheckpoint(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  absl::StatusOr<tlog::Hash> root = tlog::HashFromBytes(pqxx::binarystring(r[0]["root"]).str());
  if (!root.ok()) return absl::DataLossError("a kept checkpoint's root is not 32 bytes");
  return LogCheckpoint{r[0]["size"].as<uint64_t>(), *root, r[0]["note"].as<std::string>()};
}

absl::StatusOr<std::optional<LogCheckpoint>> SignLogCheckpoint(pqxx::transaction_base& txn,
                                                               const tlog::NoteSigner& signer) {
  try {
    txn.exec(kSignerLock);
    absl::StatusOr<std::optional<LogCheckpoint>> newest = Newest(txn);
    if (!newest.ok()) return newest.status();
    absl::StatusOr<TreeHead> head = ReadTreeHead(txn);
    if (!head.ok()) return head.status();
    if (head->size == 0 || (*newest && head->size == (*newest)->size)) {
      if (*newest && head->root != (*newest)->root) {
        return absl::DataLossError("the tree's root changed without it growing: it was altered");
      }
      return std::nullopt;
    }
    if (*newest) {
      if (absl::Status s = CheckExtends(txn, **newest, *head); !s.ok()) return s;
    }
    absl::StatusOr<std::string> note =
        tlog::SignCheckpoint({signer.name(), head->size, head->root, {}}, signer);
    if (!note.ok()) return note.status();
    txn.exec_params(R"(INSERT INTO "HistoryLogCheckpoint" (size, root, note)
                       VALUES ($1, decode($2, 'hex'), $3))",
                    static_cast<int64_t>(head->size), Hex(tlog::HashToBytes(head->root)), *note);
    return LogCheckpoint{head->size, head->root, *note};
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::StatusOr<std::optional<LogCheckpoint>> NewestLogCheckpoint(pqxx::transaction_base& txn,
                                                                 const std::string& bound) {
  try {
    return Newest(txn, bound);
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking
