#include "migrator/fold_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/batch_sizer.h"
#include "common/tlog/merkle.h"
#include "history-service/log_tree.h"
#include "migrator/db_failure.h"
#include "migrator/exit_codes.h"
#include "pqxx/pqxx"

namespace booking::migrator {
namespace {

constexpr absl::Duration kReportEvery = absl::Seconds(5);

struct FoldState {
  TreeHead head;
  bool folded = false;  // every row from before the log is in
};

absl::StatusOr<FoldState> ReadFoldState(pqxx::connection& conn) {
  pqxx::nontransaction txn(conn);
  if (txn.exec(R"(SELECT to_regclass('"BookingStatusHistoryTree"') IS NULL)")[0][0].as<bool>()) {
    return WithExitCode(
        absl::FailedPreconditionError("the history store has no transparency log yet (schema step "
                                      "0012_history_log_tree): run `migrator up` first"),
        kExitRefused);
  }
  absl::StatusOr<TreeHead> head = ReadTreeHead(txn);
  if (!head.ok()) return head.status();
  return FoldState{
      *head, txn.exec(R"(SELECT "legacyDone" FROM "BookingStatusHistoryTree")")[0][0].as<bool>()};
}

std::string Describe(const FoldState& s) {
  return absl::StrCat("the tree holds ", s.head.size, " entries (root ",
                      tlog::HashToHex(s.head.root), "); rows from before the log ",
                      s.folded ? "all folded in" : "still to fold");
}

}  // namespace

absl::Status FoldLog(const StoreTarget& target, const FoldOptions& options, std::ostream& out) {
  auto conn = ConnectStore(StoreKind::kHistory, target.url);
  if (!conn.ok()) return conn.status();
  try {
    if (absl::Status s = EnterStore(**conn, target, false); !s.ok()) return s;
    absl::StatusOr<FoldState> state = ReadFoldState(**conn);
    if (!state.ok()) return state.status();
    if (options.dry_run) {
      out << "fold-log (dry run): " << Describe(*state) << "\n";
      return absl::OkStatus();
    }
    absl::Time next_report = absl::Now() + kReportEvery;
    int64_t appended = 0;
    BatchSizer sizer(options.batch, options.batch_time);
    for (;;) {
      const int batch = sizer.next();
      const absl::Time start = absl::Now();
      absl::StatusOr<Integrated> n = IntegrateRows(**conn, batch);
      if (!n.ok()) {
        return n.status().code() == absl::StatusCode::kDataLoss
                   ? WithExitCode(n.status(), kExitNeedsHuman)
                   : n.status();
      }
      sizer.Done(static_cast<int>(n->appended), absl::Now() - start);
      appended += n->appended;
      if (n->folded && n->appended < batch) break;  // caught up with the feed too
      if (absl::Now() >= next_report) {
        out << "fold-log: " << appended << " entries appended, the tree holds " << n->head.size
            << "\n";
        next_report = absl::Now() + kReportEvery;
      }
    }
    state = ReadFoldState(**conn);
    if (!state.ok()) return state.status();
    out << "fold-log: done, " << appended << " entries appended; " << Describe(*state) << "\n";
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

}  // namespace booking::migrator
