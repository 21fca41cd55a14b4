// The migrator's one translation of a libpqxx exception (or anything else a
// statement, or the code around it, threw) into a status with an exit code.
// Every migrator function that reaches a store catches at its boundary and
// returns StatusOfDbFailure(e): no exception leaves a migrator module.
#ifndef MIGRATOR_DB_FAILURE_H_
#define MIGRATOR_DB_FAILURE_H_

#include <exception>

#include "absl/status/status.h"

namespace booking::migrator {

// True for errors that a later run can get past by itself: a lock not had
// in time, a deadlock or serialization failure, a statement timeout, a lost
// connection, a server shutting down. Never throws.
bool IsTransient(const std::exception& e);

// UNAVAILABLE (exit 1) when a later run gets past it by itself (IsTransient),
// else exit 8 saying that a retry will not help. Never throws.
absl::Status StatusOfDbFailure(const std::exception& e);

}  // namespace booking::migrator

#endif  // MIGRATOR_DB_FAILURE_H_
