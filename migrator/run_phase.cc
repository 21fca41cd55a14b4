#include "migrator/run_phase.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/pg.h"
#include "migrator/exit_codes.h"
#include "migrator/ledger.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/phases.h"

namespace booking::migrator {
namespace {

// `s` with `prefix` before its message, its payloads (the exit code) kept.
absl::Status Prefixed(const absl::Status& s, const std::string& prefix) {
  absl::Status out(s.code(), absl::StrCat(prefix, s.message()));
  s.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status Dispatch(StatusMigration& migration, const Invocation& run) {
  const std::string& c = run.command;
  if (c == "status") return migration.PrintStatus();
  if (c == "plan") return migration.Plan();
  if (c == "expand") return migration.Expand();
  if (c == "backfill") return migration.Backfill();
  if (c == "verify") return migration.Verify();
  if (c == "contract") return migration.Contract();
  return migration.Rollback(run.undo);
}

absl::Status NotSetUp(const Invocation& run, const absl::Status& why) {
  if (run.command != "status" || !absl::IsFailedPrecondition(why)) return why;
  if (run.phase.json) {
    std::cout << R"({"phase":"","next":"up"})"
              << "\n";
  } else {
    std::cout << "booking store status migration: not set up yet (" << why.message()
              << "; next: `migrator up`)\n";
  }
  return absl::OkStatus();
}

absl::Status RunOnBookingStore(pqxx::connection& conn, const Invocation& run) {
  const StoreTarget target{StoreKind::kBooking, run.booking_url, run.schema};
  if (absl::Status s = EnterStore(conn, target, false); !s.ok()) return NotSetUp(run, s);
  // status and plan only read: they never wait for a running phase.
  if (run.command != "status" && run.command != "plan") {
    absl::Status s = AcquireStoreLock(conn, StoreKind::kBooking, run.up.lock_wait);
    if (!s.ok()) return s;
  }
  Db db(conn, run.phase.dry_run ? FaultPlan{} : FaultPlan::FromEnvironment());
  if (absl::Status s = db.Prepare(); !s.ok()) return s;
  absl::StatusOr<StoreInfo> store;
  if (absl::Status s = db.Read([&](Tx& tx) { store = ReadStore(tx); }); !s.ok()) return s;
  if (!store.ok()) {
    return NotSetUp(run, WithExitCode(store.status(), kExitRefused));
  }
  const auto open_session = [&run, target]() -> absl::StatusOr<std::unique_ptr<pqxx::connection>> {
    auto session = Connect(WithConnectionDefaults(run.booking_url, "migrator"));
    if (!session.ok()) return session.status();
    if (absl::Status s = EnterStore(**session, target, false); !s.ok()) return s;
    return session;
  };
  StatusMigration migration(
      PhaseContext{db, *store, run.phase, std::cout, std::cerr, open_session});
  absl::Status s = Dispatch(migration, run);
  return run.command == "status" ? NotSetUp(run, s) : s;
}

}  // namespace

std::string CheckUrls(const Invocation& run) {
  const bool phase = run.command != "up" && run.command != "status";
  if ((phase || run.store != "history") && run.booking_url.empty()) {
    return "no URL for the booking store: set --booking-database-url or BOOKING_DATABASE_URL"
           " (or choose another --store)";
  }
  if (!phase && run.store != "booking" && run.history_url.empty()) {
    return "no URL for the history store: set --history-database-url or HISTORY_DATABASE_URL"
           " (or choose another --store)";
  }
  return "";
}

absl::Status RunPhaseCommand(const Invocation& run) {
  if (run.command == "expand" && !run.history_url.empty()) {
    // Backfill's history entries need the history store at its schema.
    absl::Status history = Up({StoreKind::kHistory, run.history_url, ""}, run.up, std::cout);
    if (!history.ok()) return Prefixed(history, "history store: ");
  }
  auto conn = ConnectStore(StoreKind::kBooking, run.booking_url);
  if (!conn.ok()) return conn.status();
  // Everything below returns what went wrong as a status (Db, EnterStore,
  // AcquireStoreLock: StatusOfDbFailure). This catch is only the last-resort
  // guard (std::bad_alloc and the like): nothing depends on it.
  try {
    return RunOnBookingStore(**conn, run);
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::Status RunStoreCommand(const Invocation& run) {
  std::vector<StoreTarget> targets;
  if (run.store != "history") targets.push_back({StoreKind::kBooking, run.booking_url, run.schema});
  if (run.store != "booking") targets.push_back({StoreKind::kHistory, run.history_url, ""});
  for (const StoreTarget& t : targets) {
    absl::Status s =
        run.command == "up" ? Up(t, run.up, std::cout) : PrintStatus(t, run.phase.json, std::cout);
    if (!s.ok()) return Prefixed(s, absl::StrCat(StoreName(t.kind), " store: "));
    if (run.command == "status" && t.kind == StoreKind::kBooking) {
      if (absl::Status p = RunPhaseCommand(run); !p.ok()) return p;
    }
  }
  return absl::OkStatus();
}

}  // namespace booking::migrator
