// migrator: every schema change of both stores.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config.h"
#include "common/log.h"
#include "migrator/exit_codes.h"
#include "migrator/fold_log.h"
#include "migrator/partition_history.h"
#include "migrator/run_phase.h"
#include "migrator/up.h"

ABSL_FLAG(std::string, booking_database_url, "",
          "booking store, a libpq URL [env BOOKING_DATABASE_URL]");
ABSL_FLAG(std::string, history_database_url, "",
          "history store, a libpq URL [env HISTORY_DATABASE_URL]");
ABSL_FLAG(std::string, schema, "",
          "the schema the booking store is in [env BOOKING_DATABASE_SCHEMA; default: the one "
          "schema holding \"Booking\" (refused when several do); for a new store the "
          "connection's current schema]");
ABSL_FLAG(std::string, store, "both", "which store(s) to work on: booking, history or both");
ABSL_FLAG(bool, dry_run, false, "print the plan, change nothing");
ABSL_FLAG(bool, json, false, "status and plan: print JSON (one object per line)");
ABSL_FLAG(absl::Duration, lock_wait, absl::Seconds(60),
          "how long to wait for another migrator run on the same store before giving up (exit 3)");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(2),
          "longest wait for a lock per statement; the batch or step is then retried, so writers "
          "never queue behind the migrator for longer");
ABSL_FLAG(absl::Duration, ddl_lock_timeout, absl::Milliseconds(40),
          "longest wait for a table lock that writers conflict with (adding labels, the shadow "
          "column, a check, the swap); while it waits writers queue behind it, so it gives up "
          "and retries: a writer's longest wait behind the migrator is about this plus the "
          "swap's hold");
ABSL_FLAG(absl::Duration, wait_for_transactions, absl::Minutes(5),
          "how long to wait for transactions older than a switch of the writers' label set, and "
          "for CREATE INDEX CONCURRENTLY's waits, before giving up (exit 1)");
ABSL_FLAG(int, months_ahead, 3,
          "partition-history: monthly partitions kept ready past the current month (1 to 24)");
ABSL_FLAG(int, batch_size, 1000, "rows per batch (expand snapshot, backfill, rollback, fold-log)");
ABSL_FLAG(absl::Duration, batch_time, absl::Milliseconds(100),
          "fold-log: how long a batch may hold the tree's lock; batches shrink below "
          "--batch-size to end within it as the store grows (0: every batch --batch-size rows)");
ABSL_FLAG(int, workers, 2,
          "backfill and its rollback: sessions relabelling at once, each its own range of ids "
          "(1 to 64; each its own connection; --throttle pauses each)");
ABSL_FLAG(absl::Duration, throttle, absl::ZeroDuration(), "pause between batches, e.g. 20ms");
ABSL_FLAG(int, max_passes, 20,
          "backfill and its rollback: passes over the table before giving up (exit 7) while "
          "labels of the other set keep arriving");
ABSL_FLAG(absl::Duration, max_duration, absl::ZeroDuration(),
          "backfill and its rollback: give up (exit 7) after this long while labels keep "
          "arriving (0: no limit)");
ABSL_FLAG(std::string, in_service_rule, "",
          "backfill: SQL condition on \"Booking\" selecting IN_WORKSHOP bookings whose work is "
          "under way; they become IN_SERVICE, the others AT_WORKSHOP (e.g. "
          "'\"workStartedAt\" IS NOT NULL')");
ABSL_FLAG(absl::Duration, compatibility_window, absl::Hours(24 * 14),
          "contract: how long after backfill old status names stay accepted");
ABSL_FLAG(bool, force, false, "contract before the compatibility window has passed (logged)");
ABSL_FLAG(std::string, assume_handled, "",
          "objects the plan refuses that you made safe by hand, as the plan names them, "
          "separated by ';' (only function bodies naming old labels, and functions on row "
          "types of tables holding the status)");
ABSL_FLAG(std::string, progress, "auto",
          "progress display: bar, lines or auto (bar on a terminal)");

namespace booking::migrator {
namespace {

// --workers: each is a session on the primary; more than this is a typo.
constexpr int kMaxWorkers = 64;

constexpr char kUsage[] = R"(applies every schema change to the booking and history stores,
including the phased change of the booking status enum.

Usage: migrator COMMAND [flags]

Commands:
  up        bring each store to the current schema. An empty booking store gets
            the Prisma shape ("Booking", enum "BookingStatus") with the new
            status set; an existing one is adopted as it is, in the schema it is
            in, and the tables the services need are added. Steps are recorded
            in "MigrationLedger" with checksums. Running it again changes nothing.
  status    applied and pending steps per store, and where the status change
            stands: phase, rows per label, refused objects, label writers (--json).
  plan      every object that depends on the status type or names one of its
            labels, and how each phase carries it, or why it cannot be and what
            to do (--json). Exit 6 when expand would refuse.
  expand    plan (refuse with nothing changed when an object cannot be carried);
            add every new status label; install the trigger that gives status
            changes made with plain SQL their history entry; widen views,
            indexes, checks, triggers, policies and rules naming old labels so
            they accept both sets; snapshot every booking into
            "Booking_Status_Migration_Backup"; bring the history store (if its
            URL is set) to its schema.
  backfill  relabel old values to new ones in short locked batches (--batch-size,
            --throttle, --lock-timeout), --workers sessions at once (default
            2), each its own range of ids; a relabel keeping the status (an old
            label to its own new name) writes no history and keeps the version,
            one changing it (the in-service rule) gets its history entry in the
            same transaction; repeats until no old label is left,
            or gives up after --max-passes / --max-duration naming the sessions
            that keep writing old labels (exit 7). IN_WORKSHOP becomes
            IN_SERVICE where --in-service-rule says so, AT_WORKSHOP otherwise.
  verify    no old label anywhere; every booking equals the mapping of its
            backup value or has moved on since; counts reconcile (report).
  contract  after verify and the compatibility window (--compatibility-window,
            default 14 days after backfill; --force overrides, logged): remove
            the old labels without a long lock (new type, shadow column synced by
            trigger, batched copy, indexes built concurrently, a short swap);
            every carried object narrowed to the new labels.
  fold-log  fold the history rows written before the transparency log (schema step
            0012) into its Merkle tree, at most --batch-size rows a transaction
            under the tree's lock, fewer when a batch would pass --batch-time
            (default 100ms); resumable (a killed run leaves a prefix the next one
            extends; history-service's sequencer folds too while it runs); ends
            when every older row is in. --dry-run: where the fold stands.
  partition-history
            partition "BookingStatusHistory" by month of "recordedAt" without a
            long lock (a CHECK validated beside the writers, then one short swap:
            the table as it is becomes the first partition); refuses, with nothing
            changed, a dependent object it does not know. Then, and on every
            later run (a CronJob), creates the partitions up to --months-ahead
            (default 3) months past now. --dry-run: what a run would do.
  rollback [PHASE]
            undo the latest phase: contract (old labels back, objects widened
            again), backfill (writers switch to the old labels; every new label
            written back as its old one, the exact new status kept, with
            history), or expand (with booking-service stopped: the original type
            and objects back, nothing of the change left). Name the phase in
            Jobs: a rerun then changes nothing, and a later phase still standing
            is refused.

Every changing command takes --dry-run (the plan and the counts, no change)
and is idempotent and resumable: run it again after any interruption.

Database URLs: --booking-database-url / --history-database-url, or
BOOKING_DATABASE_URL / HISTORY_DATABASE_URL. --store limits up/status to one.
Two runs on one store never interleave: the second waits (--lock-wait).

Exit codes (for Kubernetes Jobs):
  0  done (or nothing to do)
  1  failed; safe to retry (the database was unreachable, locks were held by
     writers, transactions did not end in time)
  2  bad usage: fix the command line (also a URL naming a database the server
     does not have)
  3  another migrator run holds the store's lock: retry later
  4  the ledger disagrees with this migrator (an applied step was edited, or a
     newer migrator ran): a human must look
  5  verify failed: read its report
  6  refused before changing anything: a phase's preconditions do not hold,
     or a URL points at the other store (or at tables of neither) (the
     message says which and what to do)
  7  backfill (or its rollback) stopped: labels of the other set keep arriving
     from the sessions named; stop them, then run it again
  8  failed in a way no retry gets past (the message says what); `migrator
     status` shows where the change stands: a rerun after the fix continues,
     `migrator rollback` undoes it

Examples:
  BOOKING_DATABASE_URL=postgresql://app@db/booking \
  HISTORY_DATABASE_URL=postgresql://app@db/history  migrator up
  migrator plan && migrator expand
  migrator backfill --batch-size 500 --throttle 10ms
  migrator verify && migrator contract
  migrator status --json)";

PhaseOptions OptionsFromFlags() {
  const std::string progress = absl::GetFlag(FLAGS_progress);
  PhaseOptions o;
  o.dry_run = absl::GetFlag(FLAGS_dry_run);
  o.json = absl::GetFlag(FLAGS_json);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.workers = absl::GetFlag(FLAGS_workers);
  o.throttle = absl::GetFlag(FLAGS_throttle);
  o.lock_timeout = absl::GetFlag(FLAGS_lock_timeout);
  o.ddl_lock_timeout = absl::GetFlag(FLAGS_ddl_lock_timeout);
  o.wait_for_transactions = absl::GetFlag(FLAGS_wait_for_transactions);
  o.in_service_rule = absl::GetFlag(FLAGS_in_service_rule);
  o.compatibility_window = absl::GetFlag(FLAGS_compatibility_window);
  o.force = absl::GetFlag(FLAGS_force);
  o.progress_bar = progress == "bar" || (progress == "auto" && isatty(2));
  o.max_passes = absl::GetFlag(FLAGS_max_passes);
  o.max_duration = absl::GetFlag(FLAGS_max_duration);
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_assume_handled), ';', absl::SkipWhitespace())) {
    o.assume_handled.emplace_back(absl::StripAsciiWhitespace(name));
  }
  return o;
}

// A usage problem, or empty.
std::string CheckFlags() {
  const int batch = absl::GetFlag(FLAGS_batch_size);
  if (batch < 1 || batch > 100000) return "--batch-size must be between 1 and 100000";
  const int workers = absl::GetFlag(FLAGS_workers);
  if (workers < 1 || workers > kMaxWorkers) {
    return absl::StrCat("--workers must be between 1 and ", kMaxWorkers, " (got ", workers,
                        "): each worker is a connection to the primary");
  }
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress != "auto" && progress != "bar" && progress != "lines") {
    return "--progress must be auto, bar or lines";
  }
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store != "booking" && store != "history" && store != "both") {
    return "--store must be booking, history or both";
  }
  if (absl::GetFlag(FLAGS_max_passes) < 1) return "--max-passes must be at least 1";
  if (absl::GetFlag(FLAGS_batch_time) < absl::ZeroDuration()) {
    return "--batch-time must not be negative (0: fixed batches)";
  }
  return "";
}

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << absl::StrCat("migrator ", command, ": ", status.message(), "\n");  // one write
  LogError("command failed", {{"command", command}, {"error", status.ToString()}});
  return ExitCodeOf(status);
}

int FoldLogCommand() {
  if (const std::string problem = CheckFlags(); !problem.empty()) {
    std::cerr << "migrator: " << problem << "\n";
    return kExitUsage;
  }
  const std::string url = FlagOrEnv(FLAGS_history_database_url, "HISTORY_DATABASE_URL");
  if (url.empty()) {
    std::cerr << "migrator: fold-log needs the history store: set --history-database-url or "
                 "HISTORY_DATABASE_URL\n";
    return kExitUsage;
  }
  const absl::Status status = FoldLog({StoreKind::kHistory, url, ""},
                                      {.batch = absl::GetFlag(FLAGS_batch_size),
                                       .batch_time = absl::GetFlag(FLAGS_batch_time),
                                       .dry_run = absl::GetFlag(FLAGS_dry_run)},
                                      std::cout);
  return status.ok() ? kExitOk : Fail("fold-log", status);
}

int PartitionHistoryCommand() {
  if (const std::string problem = CheckFlags(); !problem.empty()) {
    std::cerr << "migrator: " << problem << "\n";
    return kExitUsage;
  }
  const int months = absl::GetFlag(FLAGS_months_ahead);
  if (months < 1 || months > 24) {
    std::cerr << "migrator: --months-ahead must be 1 to 24 (got " << months << ")\n";
    return kExitUsage;
  }
  const std::string url = FlagOrEnv(FLAGS_history_database_url, "HISTORY_DATABASE_URL");
  if (url.empty()) {
    std::cerr << "migrator: partition-history needs the history store: set "
                 "--history-database-url or HISTORY_DATABASE_URL\n";
    return kExitUsage;
  }
  const absl::Status status =
      PartitionHistory({StoreKind::kHistory, url, ""},
                       {.months_ahead = months,
                        .lock_wait = absl::GetFlag(FLAGS_lock_wait),
                        .lock_timeout = absl::GetFlag(FLAGS_ddl_lock_timeout),
                        .dry_run = absl::GetFlag(FLAGS_dry_run)},
                       std::cout);
  return status.ok() ? kExitOk : Fail("partition-history", status);
}

int Main(int argc, char** argv) {
  // Whole lines on stdout: a log record (stderr, common/log.h) written
  // between two flushes then falls between two lines, not inside one.
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  std::vector<std::string> args = ParseCommandLine(argc, argv, kUsage);
  const bool named_rollback = args.size() == 3 && args[1] == "rollback";
  if (args.size() != 2 && !named_rollback) {
    std::cerr << "migrator: expected one command (up, status, plan, expand, backfill, verify, "
                 "contract, rollback, fold-log or partition-history); see migrator --help\n";
    return kExitUsage;
  }
  const std::string& command = args[1];
  const std::vector<std::string> phases = {"plan",   "expand",   "backfill",
                                           "verify", "contract", "rollback"};
  const bool is_phase = std::find(phases.begin(), phases.end(), command) != phases.end();
  if (command == "fold-log") return FoldLogCommand();
  if (command == "partition-history") return PartitionHistoryCommand();
  if (command != "up" && command != "status" && !is_phase) {
    std::cerr << "migrator: unknown command \"" << command << "\"; see migrator --help\n";
    return kExitUsage;
  }
  if (const std::string problem = CheckFlags(); !problem.empty()) {
    std::cerr << "migrator: " << problem << "\n";
    return kExitUsage;
  }
  if (named_rollback && args[2] != "contract" && args[2] != "backfill" && args[2] != "expand") {
    std::cerr << "migrator: rollback takes contract, backfill or expand\n";
    return kExitUsage;
  }
  Invocation run{command,
                 named_rollback ? args[2] : "",
                 FlagOrEnv(FLAGS_booking_database_url, "BOOKING_DATABASE_URL"),
                 FlagOrEnv(FLAGS_history_database_url, "HISTORY_DATABASE_URL"),
                 FlagOrEnv(FLAGS_schema, "BOOKING_DATABASE_SCHEMA"),
                 absl::GetFlag(FLAGS_store),
                 OptionsFromFlags(),
                 {.dry_run = absl::GetFlag(FLAGS_dry_run),
                  .lock_wait = absl::GetFlag(FLAGS_lock_wait),
                  .lock_timeout = absl::GetFlag(FLAGS_lock_timeout)}};
  if (std::string usage = CheckUrls(run); !usage.empty()) {
    std::cerr << "migrator: " << usage << "\n";
    return kExitUsage;
  }
  const absl::Status status = is_phase ? RunPhaseCommand(run) : RunStoreCommand(run);
  return status.ok() ? kExitOk : Fail(command, status);
}

}  // namespace
}  // namespace booking::migrator

int main(int argc, char** argv) { return booking::migrator::Main(argc, argv); }
