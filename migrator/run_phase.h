// Running one migrator command against its store(s): the connection, the
// store's schema, the migrator lock, and the translation of whatever went
// wrong into an exit code that says whether a retry can help.
#ifndef MIGRATOR_RUN_PHASE_H_
#define MIGRATOR_RUN_PHASE_H_

#include <string>

#include "absl/status/status.h"
#include "migrator/status_enum/context.h"
#include "migrator/up.h"

namespace booking::migrator {

struct Invocation {
  std::string command;  // up, status, plan, expand, backfill, verify, contract, rollback
  std::string undo;     // rollback's phase, if named
  std::string booking_url;
  std::string history_url;
  std::string schema;
  std::string store;  // booking, history or both (up, status)
  PhaseOptions phase;
  UpOptions up;
};

// A usage problem with the URLs the command needs, or empty.
std::string CheckUrls(const Invocation& run);

// plan, expand, backfill, verify, contract, rollback on the booking store
// (expand also brings the history store to its schema when its URL is set).
absl::Status RunPhaseCommand(const Invocation& run);

// up and status, store by store.
absl::Status RunStoreCommand(const Invocation& run);

}  // namespace booking::migrator

#endif  // MIGRATOR_RUN_PHASE_H_
