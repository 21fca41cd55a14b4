#include "migrator/up.h"

#include <map>
#include <thread>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "migrator/db_failure.h"
#include "migrator/exit_codes.h"
#include "migrator/ledger.h"

namespace booking::migrator {
namespace {

constexpr char kLockNotAvailable[] = "55P03";

// The step's concurrent indexes, each outside any transaction: CREATE INDEX
// CONCURRENTLY takes no lock that writers wait for (it waits for them
// instead). An invalid index (a build interrupted or failed) is dropped and
// built again.
void BuildConcurrently(pqxx::connection& conn, const Step& step) {
  for (const auto& [name, definition] : step.concurrent_indexes) {
    const std::string index = conn.quote_name(name);
    pqxx::nontransaction tx(conn);
    const pqxx::result state = tx.exec_params(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)", index);
    if (!state.empty() && state[0]["valid"].as<bool>()) continue;
    if (!state.empty()) tx.exec("DROP INDEX CONCURRENTLY IF EXISTS " + index);
    LogInfo("building index concurrently", {{"step", step.id}, {"index", name}});
    try {
      tx.exec(absl::StrCat("CREATE INDEX CONCURRENTLY ", index, " ", definition));
    } catch (const std::exception&) {
      // Nothing half-made stays behind (a rerun would build it anyway).
      try {
        tx.exec("DROP INDEX CONCURRENTLY IF EXISTS " + index);
      } catch (const std::exception&) {
      }
      throw;
    }
  }
}

// Applies one step; a lock_timeout (another session holding a table lock)
// rolls it back and tries again after a pause, so the step never queues
// writers behind it for long.
absl::Status ApplyStep(pqxx::connection& conn, const Step& step, const UpOptions& options) {
  BuildConcurrently(conn, step);
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::work txn(conn);
      txn.exec(absl::StrCat("SET LOCAL lock_timeout = ",
                            absl::ToInt64Milliseconds(options.lock_timeout)));
      txn.exec(step.sql);
      if (absl::Status s = RecordStep(txn, step); !s.ok()) return s;
      txn.commit();
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != kLockNotAvailable || attempt >= options.lock_retries) {
        if (IsTransient(e)) {
          return absl::UnavailableError(
              absl::StrCat("step ", step.id, " failed: ", e.what(), " (safe to retry)"));
        }
        // The store is not what the step expects: a retry cannot help.
        return WithExitCode(
            absl::InternalError(absl::StrCat("step ", step.id, " failed: ", e.what(),
                                             " A retry will not help: the store differs from "
                                             "what the step expects (see the error)")),
            kExitNeedsHuman);
      }
      LogWarning("step waited too long for a lock; retrying",
                 {{"step", step.id}, {"attempt", absl::StrCat(attempt)}});
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
    }
  }
}

// Columns anywhere storing rows of "Booking" (its row type, or an array,
// domain or other row holding it): PostgreSQL refuses to add a column with a
// default to "Booking" while they exist, and dropping its status column at
// contract would leave their status NULL for good.
std::vector<std::string> BookingRowsStored(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  std::vector<std::string> out;
  for (const pqxx::row& r : tx.exec(R"(
      WITH RECURSIVE edges(holder, held) AS (
        SELECT oid, typelem FROM pg_type
        WHERE typelem <> 0 AND typsubscript = 'array_subscript_handler'::regproc
        UNION ALL SELECT oid, typbasetype FROM pg_type WHERE typtype = 'd'
        UNION ALL SELECT c.reltype, a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE a.attnum > 0 AND NOT a.attisdropped AND c.reltype <> 0
      ), holds(oid) AS (
        SELECT reltype FROM pg_class WHERE oid = to_regclass('"Booking"')
        UNION SELECT e.holder FROM edges e JOIN holds h ON e.held = h.oid
      )
      SELECT format('%s.%I', a.attrelid::regclass, a.attname) AS column_name FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.atttypid IN (SELECT oid FROM holds) AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relkind IN ('r', 'p', 'f', 'm', 'c') ORDER BY 1)")) {
    out.push_back(r["column_name"].as<std::string>());
  }
  return out;
}

absl::Status CheckBookingRows(pqxx::connection& conn) {
  const std::vector<std::string> columns = BookingRowsStored(conn);
  if (columns.empty()) return absl::OkStatus();
  return WithExitCode(
      absl::FailedPreconditionError(absl::StrCat(
          "refused; nothing was changed: ", absl::StrJoin(columns, ", "),
          " store(s) rows of \"Booking\" (its row type). PostgreSQL cannot add the columns `up` "
          "adds to \"Booking\" while they do, and the status change would leave their status "
          "NULL for good. Store those rows as jsonb (ALTER TABLE ... ALTER COLUMN ... TYPE jsonb "
          "USING to_jsonb(...)) or drop those columns, then run `migrator up` again")),
      kExitRefused);
}

// The URL's flag and environment variable, for messages.
std::string UrlSetting(StoreKind kind) {
  return kind == StoreKind::kBooking ? "--booking-database-url (or BOOKING_DATABASE_URL)"
                                     : "--history-database-url (or HISTORY_DATABASE_URL)";
}

// In EnterStore: refuses a schema holding the other store instead of this
// one (the URLs swapped or both the same), and, when `creating`, a schema
// holding tables of neither store (a store is created only where it cannot
// mix with what is there).
absl::Status CheckTarget(pqxx::connection& conn, StoreKind kind, bool creating) {
  SchemaContents found;
  try {
    pqxx::read_transaction txn(conn);
    found = ReadSchemaContents(txn);
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
  const StoreKind other_kind =
      kind == StoreKind::kBooking ? StoreKind::kHistory : StoreKind::kBooking;
  std::vector<std::string> other_steps;
  for (const Step& step : StepsFor(other_kind)) other_steps.push_back(step.id);
  const std::string name(StoreName(kind));
  if (std::string other = OtherStoreIn(found, name, other_steps); !other.empty()) {
    return WithExitCode(absl::FailedPreconditionError(absl::StrCat(
                            UrlSetting(kind), " points at ", other, ", not at a ", name,
                            " store: pass the ", name, " database's URL; nothing was changed")),
                        kExitRefused);
  }
  const std::vector<std::string> foreign = ForeignTables(found);
  if (!creating || foreign.empty() || absl::c_linear_search(found.tables, AnchorTable(kind))) {
    return absl::OkStatus();
  }
  return WithExitCode(
      absl::FailedPreconditionError(absl::StrCat(
          UrlSetting(kind), " points at a database whose schema ", found.schema, " holds no ", name,
          " store but other tables (", QuotedList(foreign, 5), "): pass the ", name,
          " database's URL, or give the store an empty schema of its own",
          kind == StoreKind::kBooking ? " (--schema)" : " (search_path in the URL)",
          "; nothing was changed")),
      kExitRefused);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectStore(StoreKind kind,
                                                               const std::string& url) {
  auto conn = Connect(WithConnectionDefaults(url, "migrator"));
  if (conn.ok()) return conn;
  // libpq: FATAL:  database "x" does not exist. Waiting cannot create it.
  const absl::string_view why = conn.status().message();
  if (absl::StrContains(why, "FATAL:  database \"") && absl::StrContains(why, "does not exist")) {
    return WithExitCode(absl::InvalidArgumentError(absl::StrCat(
                            UrlSetting(kind), " names a database the server does not have (",
                            absl::StripAsciiWhitespace(why.substr(why.find("database \""))),
                            "): fix the URL, or create the database")),
                        kExitUsage);
  }
  return conn.status();
}

std::string AnchorTable(StoreKind kind) {
  return kind == StoreKind::kBooking ? "Booking" : "BookingStatusHistory";
}

absl::Status EnterStore(pqxx::connection& conn, const StoreTarget& target, bool create) {
  absl::StatusOr<std::string> schema;
  std::string role;
  bool usage = true;
  try {
    pqxx::read_transaction txn(conn);
    schema = LocateSchema(txn, AnchorTable(target.kind), target.schema);
    if (absl::IsNotFound(schema.status()) && target.schema.empty() && create) {
      schema = CurrentSchema(txn);
    }
    if (schema.ok()) {
      const pqxx::row r = txn.exec_params(
          "SELECT current_user AS role, "
          "has_schema_privilege(to_regnamespace($1), 'USAGE') AS usage",
          txn.quote_name(*schema))[0];
      role = r["role"].as<std::string>();
      usage = r["usage"].is_null() || r["usage"].as<bool>();
    }
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
  if (!usage) {  // the store would look empty (or absent) to every statement
    return WithExitCode(absl::FailedPreconditionError(absl::StrCat(
                            "the ", StoreName(target.kind), " store is in schema ", *schema,
                            ", where the role ", role, " has no USAGE; GRANT USAGE ON SCHEMA ",
                            *schema, " TO ", role, " (the migrator's role should own the store)")),
                        kExitRefused);
  }
  if (!schema.ok()) {
    // The URL of the other store says so, not "run up".
    if (absl::Status s = CheckTarget(conn, target.kind, false); !s.ok()) return s;
    return WithExitCode(
        absl::FailedPreconditionError(
            absl::StrCat("the ", StoreName(target.kind), " store: ", schema.status().message(),
                         create ? "" : "; run `migrator up` (or name the schema with --schema)")),
        kExitRefused);
  }
  try {
    UseSchema(conn, *schema);
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
  return CheckTarget(conn, target.kind, create);
}

absl::Status Up(const StoreTarget& target, const UpOptions& options, std::ostream& out) {
  auto conn = ConnectStore(target.kind, target.url);
  if (!conn.ok()) return conn.status();
  try {
    if (absl::Status s = AcquireStoreLock(**conn, target.kind, options.lock_wait); !s.ok()) {
      return s;
    }
    if (absl::Status s = EnterStore(**conn, target, true); !s.ok()) return s;
    const auto read = AppliedSteps(**conn);  // none without a ledger yet
    if (!read.ok()) return read.status();
    const std::map<std::string, std::string>& applied = *read;
    if (absl::Status s = CheckLedger(applied, target.kind); !s.ok()) return s;
    int pending = 0;
    for (const Step& step : StepsFor(target.kind)) pending += applied.count(step.id) == 0 ? 1 : 0;
    if (pending > 0 && target.kind == StoreKind::kBooking) {
      if (absl::Status s = CheckBookingRows(**conn); !s.ok()) return s;
    }
    if (!options.dry_run) {
      if (absl::Status s = EnsureLedger(**conn); !s.ok()) return s;
    }
    pending = 0;
    for (const Step& step : StepsFor(target.kind)) {
      if (applied.count(step.id) > 0) continue;
      ++pending;
      if (options.dry_run) {
        out << StoreName(target.kind) << ": would apply " << step.id << " (" << step.description
            << ")\n";
        continue;
      }
      if (absl::Status s = ApplyStep(**conn, step, options); !s.ok()) return s;
      out << StoreName(target.kind) << ": applied " << step.id << " (" << step.description << ")\n";
    }
    if (pending == 0) out << StoreName(target.kind) << ": up to date\n";
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::Status PrintStatus(const StoreTarget& target, bool json, std::ostream& out) {
  auto conn = ConnectStore(target.kind, target.url);
  if (!conn.ok()) return conn.status();
  try {
    if (absl::Status s = EnterStore(**conn, target, true); !s.ok()) return s;
    const auto read = AppliedSteps(**conn);
    if (!read.ok()) return read.status();
    const std::map<std::string, std::string>& applied = *read;
    const absl::Status ledger = CheckLedger(applied, target.kind);
    google::protobuf::Struct report;
    auto& f = *report.mutable_fields();
    f["store"].set_string_value(std::string(StoreName(target.kind)));
    auto* applied_list = f["applied"].mutable_list_value();
    auto* pending_list = f["pending"].mutable_list_value();
    for (const Step& step : StepsFor(target.kind)) {
      (applied.count(step.id) > 0 ? applied_list : pending_list)
          ->add_values()
          ->set_string_value(step.id);
    }
    f["ledger"].set_string_value(ledger.ok() ? "ok" : std::string(ledger.message()));
    if (json) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(report, &text);
      out << text << "\n";
    } else {
      out << StoreName(target.kind) << " store: " << applied_list->values_size()
          << " step(s) applied, " << pending_list->values_size() << " pending";
      for (const auto& v : pending_list->values()) out << "\n  pending: " << v.string_value();
      if (!ledger.ok()) out << "\n  ledger problem: " << ledger.message();
      out << "\n";
    }
    return ledger;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking::migrator
