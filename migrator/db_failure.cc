#include "migrator/db_failure.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrator/exit_codes.h"
#include "pqxx/pqxx"

namespace booking::migrator {

bool IsTransient(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return false;
  const std::string& s = sql->sqlstate();
  return s == "55P03" || s == "40P01" || s == "40001" || s == "57014" ||
         absl::StartsWith(s, "08") || absl::StartsWith(s, "57P") || absl::StartsWith(s, "53");
}

absl::Status StatusOfDbFailure(const std::exception& e) {
  if (IsTransient(e)) {
    return WithExitCode(absl::UnavailableError(
                            absl::StrCat(e.what(), " (safe to retry: run the same command again)")),
                        kExitFailed);
  }
  return WithExitCode(
      absl::InternalError(absl::StrCat(
          "failed: ", e.what(),
          " A retry will not help until the cause is fixed. `migrator status` shows where the "
          "change stands: run the command again after the fix to continue, or `migrator "
          "rollback` to undo it.")),
      kExitNeedsHuman);
}

}  // namespace booking::migrator
