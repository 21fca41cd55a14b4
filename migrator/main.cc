// migrator: every schema change of both stores.
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pg.h"
#include "migrator/exit_codes.h"
#include "migrator/ledger.h"
#include "migrator/status_migration.h"
#include "migrator/up.h"

ABSL_FLAG(std::string, booking_database_url, "",
          "booking store, a libpq URL [env BOOKING_DATABASE_URL]");
ABSL_FLAG(std::string, history_database_url, "",
          "history store, a libpq URL [env HISTORY_DATABASE_URL]");
ABSL_FLAG(std::string, store, "both", "which store(s) to work on: booking, history or both");
ABSL_FLAG(bool, dry_run, false, "print the plan, change nothing");
ABSL_FLAG(bool, json, false, "status: print JSON (one object per line)");
ABSL_FLAG(absl::Duration, lock_wait, absl::Seconds(60),
          "how long to wait for another migrator run on the same store before giving up (exit 3)");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(2),
          "longest wait for a lock per statement; the batch or step is then retried, so writers "
          "never queue behind the migrator for longer");
ABSL_FLAG(absl::Duration, ddl_lock_timeout, absl::Milliseconds(200),
          "longest wait for a table lock that writers conflict with (adding labels, the shadow "
          "column, the swap); while it waits writers queue behind it, so it gives up and retries");
ABSL_FLAG(int, batch_size, 1000, "rows per batch (expand snapshot, backfill, rollback)");
ABSL_FLAG(absl::Duration, throttle, absl::ZeroDuration(), "pause between batches, e.g. 20ms");
ABSL_FLAG(std::string, in_service_rule, "",
          "backfill: SQL condition on \"Booking\" selecting IN_WORKSHOP bookings whose work is "
          "under way; they become IN_SERVICE, the others AT_WORKSHOP (e.g. "
          "'\"workStartedAt\" IS NOT NULL')");
ABSL_FLAG(absl::Duration, compatibility_window, absl::Hours(24 * 14),
          "contract: how long after backfill old status names stay accepted");
ABSL_FLAG(bool, force, false, "contract before the compatibility window has passed (logged)");
ABSL_FLAG(std::string, progress, "auto",
          "progress display: bar, lines or auto (bar on a terminal)");

namespace booking::migrator {
namespace {

constexpr char kUsage[] = R"(applies every schema change to the booking and history stores,
including the phased change of the booking status enum.

Usage: migrator COMMAND [flags]

Commands:
  up        bring each store to the current schema. An empty booking store gets
            the Prisma shape ("Booking", enum "BookingStatus") with the new
            status set; an existing one is adopted as it is, and the tables the
            services need are added. Steps are recorded in "MigrationLedger"
            with checksums. Running it again changes nothing.
  status    applied and pending steps per store, and where the status change
            stands: phase, rows per label, backfill progress, blockers (--json).
  expand    add every new status label; snapshot id, status, "updatedAt" of
            every booking into "Booking_Status_Migration_Backup" (status TEXT);
            bring the history store (if its URL is set) to its schema.
  backfill  relabel old values to new ones in short batches (--batch-size,
            --throttle, --lock-timeout), each changed booking with a history
            entry in the same transaction; repeats until no old label is left in
            any column of the type. IN_WORKSHOP becomes IN_SERVICE where
            --in-service-rule says so, AT_WORKSHOP otherwise.
  verify    no old label anywhere; every booking equals the mapping of its
            backup value or has moved on since; counts reconcile (report).
  contract  after verify and the compatibility window (--compatibility-window,
            default 14 days after backfill; --force overrides, logged): remove
            the old labels without a long lock (new type, shadow column synced by
            trigger, batched copy, indexes built concurrently, a short swap);
            keeps defaults, indexes (partial ones translated), views, and other
            columns of the type.
  rollback [PHASE]
            undo the latest phase: contract (old labels back), backfill
            (untouched rows get their backup value, others are reverse-mapped,
            with history), or expand (labels and backup removed). Name the
            phase (rollback contract|backfill|expand) in Jobs: a rerun then
            changes nothing, and a later phase still standing is refused.

Every changing command takes --dry-run (the plan and the counts, no change)
and is idempotent and resumable: run it again after any interruption.

Database URLs: --booking-database-url / --history-database-url, or
BOOKING_DATABASE_URL / HISTORY_DATABASE_URL. --store limits up/status to one.
Two runs on one store never interleave: the second waits (--lock-wait).

Exit codes (for Kubernetes Jobs):
  0  done (or nothing to do)
  1  failed; safe to retry (e.g. once the database is reachable, or writers
     release their locks)
  2  bad usage: fix the command line
  3  another migrator run holds the store's lock: retry later
  4  the ledger disagrees with this migrator (an applied step was edited, or a
     newer migrator ran): a human must look
  5  verify failed: read its report
  6  refused: a phase's preconditions do not hold (the message says which)

Examples:
  BOOKING_DATABASE_URL=postgresql://app@db/booking \
  HISTORY_DATABASE_URL=postgresql://app@db/history  migrator up
  migrator expand && migrator backfill --batch-size 500 --throttle 10ms
  migrator verify && migrator contract
  migrator status --json)";

// Applies the history store's pending steps (as `up` would) unless dry-run;
// refuses on a ledger conflict.
absl::Status CheckHistoryStoreReady(const std::string& url, bool dry_run) {
  UpOptions options{.dry_run = dry_run,
                    .lock_wait = absl::GetFlag(FLAGS_lock_wait),
                    .lock_timeout = absl::GetFlag(FLAGS_lock_timeout)};
  return Up({StoreKind::kHistory, url}, options, std::cout);
}

absl::Status RunPhase(const std::string& command, const std::string& url,
                      const std::string& undo = "") {
  auto conn = Connect(WithConnectionDefaults(url, "migrator"));
  if (!conn.ok()) return conn.status();
  try {
    // status only reads: it never waits for a running phase.
    if (command != "status") {
      absl::Status s =
          AcquireStoreLock(**conn, StoreKind::kBooking, absl::GetFlag(FLAGS_lock_wait));
      if (!s.ok()) return s;
    }
    const std::string progress = absl::GetFlag(FLAGS_progress);
    PhaseOptions options{.dry_run = absl::GetFlag(FLAGS_dry_run),
                         .json = absl::GetFlag(FLAGS_json),
                         .batch_size = absl::GetFlag(FLAGS_batch_size),
                         .throttle = absl::GetFlag(FLAGS_throttle),
                         .lock_timeout = absl::GetFlag(FLAGS_lock_timeout),
                         .ddl_lock_timeout = absl::GetFlag(FLAGS_ddl_lock_timeout),
                         .in_service_rule = absl::GetFlag(FLAGS_in_service_rule),
                         .compatibility_window = absl::GetFlag(FLAGS_compatibility_window),
                         .force = absl::GetFlag(FLAGS_force),
                         .progress_bar = progress == "bar" || (progress == "auto" && isatty(2))};
    StatusMigration migration(**conn, options, std::cout, std::cerr);
    if (command == "status") return migration.PrintStatus();
    if (command == "expand") return migration.Expand();
    if (command == "backfill") return migration.Backfill();
    if (command == "verify") return migration.Verify();
    if (command == "contract") return migration.Contract();
    return migration.Rollback(undo);
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args = ParseCommandLine(argc, argv, kUsage);
  const bool named_rollback = args.size() == 3 && args[1] == "rollback";
  if (args.size() != 2 && !named_rollback) {
    std::cerr << "migrator: expected one command (up, status, expand, backfill, verify, contract "
                 "or rollback); see migrator --help\n";
    return 2;
  }
  const std::string& command = args[1];
  const std::vector<std::string> phases = {"expand", "backfill", "verify", "contract", "rollback"};
  const bool is_phase = std::find(phases.begin(), phases.end(), command) != phases.end();
  if (command != "up" && command != "status" && !is_phase) {
    std::cerr << "migrator: unknown command \"" << command << "\"; see migrator --help\n";
    return 2;
  }
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store != "booking" && store != "history" && store != "both") {
    std::cerr << "migrator: --store must be booking, history or both\n";
    return 2;
  }
  std::vector<StoreTarget> targets;
  if (absl::GetFlag(FLAGS_batch_size) < 1 || absl::GetFlag(FLAGS_batch_size) > 100000) {
    std::cerr << "migrator: --batch-size must be between 1 and 100000\n";
    return 2;
  }
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress != "auto" && progress != "bar" && progress != "lines") {
    std::cerr << "migrator: --progress must be auto, bar or lines\n";
    return 2;
  }
  if (is_phase) {
    const std::string url = FlagOrEnv(FLAGS_booking_database_url, "BOOKING_DATABASE_URL");
    if (url.empty()) {
      std::cerr << "migrator: no URL for the booking store: set --booking-database-url or "
                   "BOOKING_DATABASE_URL\n";
      return 2;
    }
    if (named_rollback && args[2] != "contract" && args[2] != "backfill" && args[2] != "expand") {
      std::cerr << "migrator: rollback takes contract, backfill or expand\n";
      return 2;
    }
    // expand prepares the history store: it must be at its current schema
    // (statuses there are TEXT, so new labels need nothing more), or backfill's
    // history entries would wait in the outbox for it.
    const std::string history_url = FlagOrEnv(FLAGS_history_database_url, "HISTORY_DATABASE_URL");
    if (command == "expand" && !history_url.empty()) {
      absl::Status history = CheckHistoryStoreReady(history_url, absl::GetFlag(FLAGS_dry_run));
      if (!history.ok()) {
        std::cerr << "migrator expand: history store: " << history.message() << "\n";
        return ExitCodeOf(history);
      }
    }
    absl::Status status = RunPhase(command, url, named_rollback ? args[2] : "");
    if (!status.ok()) {
      std::cerr << "migrator " << command << ": " << status.message() << "\n";
      LogError("phase failed", {{"command", command}, {"error", status.ToString()}});
    }
    return ExitCodeOf(status);
  }
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
      return ExitCodeOf(status);
    }
    if (command == "status" && t.kind == StoreKind::kBooking) {
      if (absl::Status s = RunPhase("status", t.url); !s.ok()) {
        std::cerr << "migrator status: " << s.message() << "\n";
        return ExitCodeOf(s);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace booking::migrator

int main(int argc, char** argv) { return booking::migrator::Main(argc, argv); }
