// migrator: every schema change of both stores.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "migrator/up.h"

ABSL_FLAG(std::string, booking_database_url, "",
          "booking store, a libpq URL [env BOOKING_DATABASE_URL]");
ABSL_FLAG(std::string, history_database_url, "",
          "history store, a libpq URL [env HISTORY_DATABASE_URL]");
ABSL_FLAG(std::string, store, "both", "which store(s) to work on: booking, history or both");
ABSL_FLAG(bool, dry_run, false, "print the plan, change nothing");
ABSL_FLAG(bool, json, false, "status: print JSON (one object per store per line)");
ABSL_FLAG(absl::Duration, lock_wait, absl::Seconds(60),
          "how long to wait for another migrator run on the same store before giving up (exit 3)");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(5),
          "longest wait for a table lock per statement; the step is then retried, so writers "
          "never queue behind the migrator for longer");

namespace booking::migrator {
namespace {

constexpr char kUsage[] = R"(applies every schema change to the booking and history stores.

Usage: migrator COMMAND [flags]

Commands:
  up       bring each store to the current schema. An empty booking store gets
           the Prisma shape ("Booking", enum "BookingStatus") with the new
           status set; an existing one is adopted as it is, and the tables the
           services need are added. Each step is recorded in the store's
           "MigrationLedger" with a checksum. Running it again changes nothing.
  status   applied and pending steps per store (--json for machines).

Database URLs: --booking-database-url / --history-database-url, or
BOOKING_DATABASE_URL / HISTORY_DATABASE_URL. --store limits the run to one.
Two runs on one store never interleave: the second waits (--lock-wait).

Exit codes (for Kubernetes Jobs):
  0  done (or nothing to do)
  1  failed; the store is unchanged past the last completed step. Retrying is
     safe (e.g. after the database is reachable again)
  2  bad usage: fix the command line
  3  another migrator run holds the store's lock: retry later
  4  the ledger disagrees with this migrator (an applied step was edited, or a
     newer migrator ran): a human must look

Examples:
  BOOKING_DATABASE_URL=postgresql://app@db/booking \
  HISTORY_DATABASE_URL=postgresql://app@db/history  migrator up
  migrator up --store booking --dry-run
  migrator status --json)";

int ExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kResourceExhausted:
      return 3;
    case absl::StatusCode::kFailedPrecondition:
      return 4;
    default:
      return 1;
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args = ParseCommandLine(argc, argv, kUsage);
  if (args.size() != 2) {
    std::cerr << "migrator: expected one command (up or status); see migrator --help\n";
    return 2;
  }
  const std::string& command = args[1];
  if (command != "up" && command != "status") {
    std::cerr << "migrator: unknown command \"" << command << "\"; see migrator --help\n";
    return 2;
  }
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store != "booking" && store != "history" && store != "both") {
    std::cerr << "migrator: --store must be booking, history or both\n";
    return 2;
  }
  std::vector<StoreTarget> targets;
  if (store != "history") {
    targets.push_back(
        {StoreKind::kBooking, FlagOrEnv(FLAGS_booking_database_url, "BOOKING_DATABASE_URL")});
  }
  if (store != "booking") {
    targets.push_back(
        {StoreKind::kHistory, FlagOrEnv(FLAGS_history_database_url, "HISTORY_DATABASE_URL")});
  }
  for (const StoreTarget& t : targets) {
    if (t.url.empty()) {
      std::cerr << "migrator: no URL for the " << StoreName(t.kind) << " store: set --"
                << StoreName(t.kind) << "-database-url or "
                << (t.kind == StoreKind::kBooking ? "BOOKING" : "HISTORY")
                << "_DATABASE_URL (or choose another --store)\n";
      return 2;
    }
  }
  UpOptions options{.dry_run = absl::GetFlag(FLAGS_dry_run),
                    .lock_wait = absl::GetFlag(FLAGS_lock_wait),
                    .lock_timeout = absl::GetFlag(FLAGS_lock_timeout)};
  for (const StoreTarget& t : targets) {
    absl::Status status = command == "up" ? Up(t, options, std::cout)
                                          : PrintStatus(t, absl::GetFlag(FLAGS_json), std::cout);
    if (!status.ok()) {
      std::cerr << "migrator " << command << ": " << StoreName(t.kind)
                << " store: " << status.message() << "\n";
      return ExitCode(status);
    }
  }
  return 0;
}

}  // namespace
}  // namespace booking::migrator

int main(int argc, char** argv) { return booking::migrator::Main(argc, argv); }
