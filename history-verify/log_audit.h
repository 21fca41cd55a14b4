// The log's half of `history-verify verify` (issue 22): against a log
// checkpoint the caller trusts (its signature checked), every entry it covers
// must still be in the store with the bytes it was logged with (the leaf hash
// the tiles hold), and the entries must give the signed root. A row deleted or
// rewritten after it was logged is named (booking, sequence, leaf) even when
// its booking's whole hash chain was recomputed; tiles rewritten along with
// the rows are found by the root. Whole-store: streamed by leaf ranges, its
// memory O(log n); one booking: that booking's leaves and inclusion proofs.
// Thread safety: a function of its arguments.
#ifndef HISTORY_VERIFY_LOG_AUDIT_H_
#define HISTORY_VERIFY_LOG_AUDIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "common/tlog/checkpoint.h"
#include "history-service/verify.h"

namespace booking {

struct LogAudit {
  int64_t entries = 0;            // leaves checked
  std::vector<Finding> findings;  // in leaf order, at most `max_findings`
};

// `booking` set: only its leaves (each by an inclusion proof against the
// trusted root). Errors: the store unreadable (the exception's status).
absl::StatusOr<LogAudit> AuditLog(pqxx::transaction_base& txn, const tlog::Checkpoint& trusted,
                                  const std::optional<std::string>& booking, size_t max_findings);

}  // namespace booking

#endif  // HISTORY_VERIFY_LOG_AUDIT_H_
