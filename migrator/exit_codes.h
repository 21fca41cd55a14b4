// The migrator's exit codes, which a Kubernetes Job (podFailurePolicy) and an
// operator act on. A status may carry its exit code; otherwise it follows
// from the status code.
#ifndef MIGRATOR_EXIT_CODES_H_
#define MIGRATOR_EXIT_CODES_H_

#include "absl/status/status.h"
#include "common/exit_codes.h"

namespace booking::migrator {

enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,          // failed; safe to retry
  kExitUsage = 2,           // fix the command line
  kExitLockBusy = 3,        // another run holds the store's lock: retry later
  kExitLedgerConflict = 4,  // the ledger disagrees with this migrator: a human must look
  kExitVerifyFailed = 5,    // verify found rows that are not what they should be
  kExitRefused = 6,         // a phase's preconditions do not hold: the message says what to do
  kExitLabelsArriving = 7,  // backfill (or its rollback) stopped: labels keep arriving from the
                            // sessions named; stop them, then run it again
  kExitNeedsHuman = 8,      // failed in a way no retry gets past (the message says what); the
                            // store is at a state a rerun (after the fix) or a rollback completes
};
// Usage means the same for every binary (common/exit_codes.h, README "Exit codes").
static_assert(kExitUsage == ::booking::kExitUsage);

absl::Status WithExitCode(absl::Status status, ExitCode code);
int ExitCodeOf(const absl::Status& status);

}  // namespace booking::migrator

#endif  // MIGRATOR_EXIT_CODES_H_
