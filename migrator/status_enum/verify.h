// verify's checks as a report: no old label in any column of the type; every
// booking the migrator relabelled and nobody touched since holds the mapping
// of its backup value; counts reconcile (every backup row is a booking as
// the migrator left it, one moved on since, or one deleted; every booking is
// in the backup or was created after expand).
//
// No function here throws: what a statement throws is returned as a status
// (Db, see db.h).
#ifndef MIGRATOR_STATUS_ENUM_VERIFY_H_
#define MIGRATOR_STATUS_ENUM_VERIFY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/status_enum/context.h"

namespace booking::migrator {

struct VerifyReport {
  std::vector<std::pair<std::string, int64_t>> old_labels;  // column -> rows holding old labels
  bool has_backup = false;
  int64_t backup_rows = 0, untouched = 0, moved_on = 0, deleted = 0;
  int64_t bookings = 0, created_after_expand = 0;
  int64_t wrong = 0;                        // untouched but not the mapping of their backup
  std::vector<std::string> wrong_examples;  // "booking X: backup A, now B"
  std::vector<std::string> mapping;         // "A -> B: n"
  bool writers_on_old_labels = false;       // a rollback of backfill is under way or done
  std::vector<std::string> problems;

  bool ok() const { return problems.empty(); }
  std::string Text() const;
};

absl::StatusOr<VerifyReport> CheckStore(PhaseContext& ctx, const StatusPlan& plan,
                                        const std::string& write_labels);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_VERIFY_H_
