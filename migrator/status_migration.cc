#include "migrator/status_migration.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/status_catalog.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "migrator/enum_catalog.h"
#include "migrator/label_translate.h"

namespace booking::migrator {
namespace {

constexpr char kType[] = "\"BookingStatus\"";
constexpr char kNextType[] = "\"BookingStatus__next\"";
constexpr char kBackup[] = "\"Booking_Status_Migration_Backup\"";
constexpr char kBookingTable[] = "\"Booking\"";
constexpr char kReasonBackfill[] = "status migration backfill";
constexpr char kReasonRollback[] = "status migration rollback";

std::vector<std::string> NewLabels() {
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) labels.emplace_back(Label(s));
  return labels;
}

std::vector<std::string> OldOnlyLabels() {
  std::vector<std::string> labels;
  for (LegacyStatus s : AllLegacyStatuses()) labels.emplace_back(Label(s));
  return labels;
}

// Labels of the new set that the old one does not have.
std::vector<std::string> NewOnlyLabels() {
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) {
    if (ReverseLabel(s) != Label(s)) labels.emplace_back(Label(s));
  }
  return labels;
}

std::string Csv(const std::vector<std::string>& labels) { return absl::StrJoin(labels, ","); }

std::string SqlList(const std::vector<std::string>& labels) {
  return absl::StrJoin(labels, ", ", [](std::string* out, const std::string& l) {
    absl::StrAppend(out, "'", l, "'");
  });
}

// A CASE expression mapping the text `expr` one label to one label (old to
// new, or new to old); other labels pass through. `in_service_rule` picks
// IN_SERVICE for IN_WORKSHOP rows (forward only).
std::string MapExpr(const std::string& expr, bool forward, const std::string& in_service_rule) {
  std::string sql = absl::StrCat("CASE ", expr);
  if (forward) {
    for (LegacyStatus s : AllLegacyStatuses()) {
      if (s == LegacyStatus::kInWorkshop && !in_service_rule.empty()) {
        absl::StrAppend(&sql, " WHEN 'IN_WORKSHOP' THEN CASE WHEN (", in_service_rule,
                        ") THEN 'IN_SERVICE' ELSE 'AT_WORKSHOP' END");
        continue;
      }
      absl::StrAppend(&sql, " WHEN '", Label(s), "' THEN '", Label(MapForward(s)), "'");
    }
  } else {
    for (Status s : AllStatuses()) {
      if (ReverseLabel(s) == Label(s)) continue;
      absl::StrAppend(&sql, " WHEN '", Label(s), "' THEN '", ReverseLabel(s), "'");
    }
  }
  absl::StrAppend(&sql, " ELSE ", expr, " END");
  return sql;
}

// The labels an untouched row may hold for its backup value (IN_WORKSHOP may
// have become AT_WORKSHOP or IN_SERVICE).
std::string ForwardSetExpr(const std::string& expr) {
  std::string sql = absl::StrCat("CASE ", expr);
  for (LegacyStatus s : AllLegacyStatuses()) {
    std::vector<std::string> targets = {std::string(Label(MapForward(s)))};
    if (s == LegacyStatus::kInWorkshop) targets.push_back("IN_SERVICE");
    absl::StrAppend(&sql, " WHEN '", Label(s), "' THEN ARRAY[", SqlList(targets), "]");
  }
  absl::StrAppend(&sql, " ELSE ARRAY[", expr, "] END");
  return sql;
}

bool IsLockConflict(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state == "55P03" || state == "40P01" || state == "40001";
}

// Progress on a terminal (a bar with rate and ETA) or as lines every few
// seconds (a Job's log).
class Progress {
 public:
  Progress(std::ostream& out, std::string what, int64_t total, bool bar, std::string unit = "rows")
      : out_(out),
        what_(std::move(what)),
        unit_(std::move(unit)),
        total_(total),
        bar_(bar),
        start_(absl::Now()) {}

  void Add(int64_t n) {
    done_ += n;
    const absl::Time now = absl::Now();
    if (!bar_ && now - last_line_ < absl::Seconds(5)) return;
    if (bar_ && now - last_line_ < absl::Milliseconds(100)) return;
    last_line_ = now;
    Print(false);
  }

  void Finish() { Print(true); }

 private:
  void Print(bool final) {
    const double secs = std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - start_));
    const double rate = static_cast<double>(done_) / secs;
    const int64_t total = std::max(total_, done_);
    const double fraction = total > 0 ? static_cast<double>(done_) / static_cast<double>(total) : 1;
    const double eta = rate > 0 ? static_cast<double>(total - done_) / rate : 0;
    if (bar_) {
      const int width = 30;
      const int filled = static_cast<int>(fraction * width);
      out_ << "\r" << what_ << " [" << std::string(filled, '#') << std::string(width - filled, '.')
           << "] " << done_ << "/" << total << " " << unit_ << ", " << static_cast<int64_t>(rate)
           << " " << unit_ << "/s, ETA " << static_cast<int64_t>(eta) << "s   ";
      if (final) out_ << "\n";
    } else {
      out_ << what_ << ": " << done_ << "/" << total << " " << unit_ << " ("
           << static_cast<int>(fraction * 100) << "%), " << static_cast<int64_t>(rate) << " "
           << unit_ << "/s, ETA " << static_cast<int64_t>(eta) << "s" << (final ? ", done" : "")
           << "\n";
    }
    out_.flush();
  }

  std::ostream& out_;
  const std::string what_;
  const std::string unit_;
  const int64_t total_;
  const bool bar_;
  const absl::Time start_;
  absl::Time last_line_ = absl::InfinitePast();
  int64_t done_ = 0;
};

int64_t Count(pqxx::connection& conn, const std::string& sql, const std::string& param = "") {
  pqxx::read_transaction txn(conn);
  return (param.empty() ? txn.exec(sql) : txn.exec_params(sql, param))[0][0].as<int64_t>();
}

int64_t CountLabels(pqxx::connection& conn, const EnumColumn& c,
                    const std::vector<std::string>& labels) {
  return Count(conn,
               absl::StrCat("SELECT count(*) FROM ", c.table, " WHERE ", c.column,
                            "::text = ANY(string_to_array($1, ','))"),
               Csv(labels));
}

// "name" with embedded quotes doubled: an SQL identifier for any name.
std::string QuoteIdent(const std::string& name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

std::string Shadow(const EnumColumn& c) { return QuoteIdent(c.column_name + "__next"); }

// A table name as regclass prints it, made fit to name other objects.
std::string Plain(const std::string& table) {
  std::string out;
  for (char c : table) {
    if (c == '"') continue;
    out.push_back(c == '.' ? '_' : c);
  }
  return out;
}

std::string Suffixed(const std::string& raw, const std::string& suffix) {
  // Identifiers are at most 63 bytes.
  return raw.substr(0, 63 - suffix.size()) + suffix;
}

}  // namespace

StatusMigration::StatusMigration(pqxx::connection& conn, PhaseOptions options, std::ostream& out,
                                 std::ostream& progress)
    : conn_(conn), options_(std::move(options)), out_(out), progress_(progress) {}

std::string StatusMigration::Phase() {
  pqxx::read_transaction txn(conn_);
  if (txn.exec(R"(SELECT to_regclass('"StatusMigration"') IS NULL)")[0][0].as<bool>()) return "";
  pqxx::result r = txn.exec(R"(SELECT phase FROM "StatusMigration")");
  return r.empty() ? "" : r[0][0].as<std::string>();
}

void StatusMigration::SetPhase(const std::string& from, const std::string& to,
                               const std::string& action, const std::string& detail) {
  pqxx::work txn(conn_);
  txn.exec_params(R"(UPDATE "StatusMigration" SET phase = $1, "updatedAt" = now())", to);
  if (to == "backfilled" && from == "expanded") {
    txn.exec(R"(UPDATE "StatusMigration" SET "backfilledAt" = COALESCE("backfilledAt", now()))");
  }
  if (to == "verified") txn.exec(R"(UPDATE "StatusMigration" SET "verifiedAt" = now())");
  if (to == "contracted") txn.exec(R"(UPDATE "StatusMigration" SET "contractedAt" = now())");
  if (to == "expanded" && from != "none") {
    txn.exec(R"(UPDATE "StatusMigration" SET "backfilledAt" = NULL, "verifiedAt" = NULL)");
  }
  txn.exec_params(
      R"(INSERT INTO "StatusMigrationLog" (action, "fromPhase", "toPhase", detail)
         VALUES ($1, $2, $3, $4))",
      action, from, to, detail);
  txn.commit();
  LogInfo("phase changed", {{"action", action}, {"from", from}, {"to", to}, {"detail", detail}});
}

absl::Status StatusMigration::WithLockRetry(const std::string& what,
                                            const std::function<void(pqxx::work&)>& fn) {
  return Retry(what, options_.lock_timeout, options_.lock_retries, fn);
}

absl::Status StatusMigration::WithTableLockRetry(const std::string& what,
                                                 const std::function<void(pqxx::work&)>& fn) {
  return Retry(what, options_.ddl_lock_timeout, options_.ddl_lock_retries, fn);
}

absl::Status StatusMigration::Retry(const std::string& what, absl::Duration timeout, int retries,
                                    const std::function<void(pqxx::work&)>& fn) {
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::work txn(conn_);
      txn.exec(absl::StrCat("SET LOCAL lock_timeout = ", absl::ToInt64Milliseconds(timeout)));
      fn(txn);
      txn.commit();
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      if (!IsLockConflict(e)) throw;
      if (attempt >= retries) {
        return absl::UnavailableError(absl::StrCat(
            what, ": could not get its locks in ", attempt, " attempts (writers hold them); ",
            "run the phase again later, or raise --lock-timeout"));
      }
      LogWarning("lock not available; retrying",
                 {{"step", what}, {"attempt", absl::StrCat(attempt)}});
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * std::min(attempt, 20)));
    }
  }
}

std::vector<std::string> StatusMigration::MissingLabels(const std::vector<std::string>& wanted) {
  pqxx::read_transaction txn(conn_);
  const std::vector<std::string> labels = EnumLabels(txn, kType);
  std::vector<std::string> missing;
  for (const std::string& l : wanted) {
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) missing.push_back(l);
  }
  return missing;
}

absl::Status StatusMigration::AddLabels(const std::vector<std::string>& labels) {
  // A label added in a transaction cannot be used in it: each is added and
  // committed on its own, before anything uses it.
  for (const std::string& l : labels) {
    absl::Status s = WithTableLockRetry("add label " + l, [&](pqxx::work& txn) {
      txn.exec(absl::StrCat("ALTER TYPE ", kType, " ADD VALUE IF NOT EXISTS ", txn.quote(l)));
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// --- status -----------------------------------------------------------------

absl::Status StatusMigration::PrintStatus() {
  const std::string phase = Phase();
  if (phase.empty()) {
    if (options_.json) {
      out_ << R"({"phase":"","next":"up"})"
           << "\n";
    } else {
      out_ << "booking store status migration: not set up yet (next: `migrator up`)\n";
    }
    return absl::OkStatus();
  }
  google::protobuf::Struct report;
  auto& f = *report.mutable_fields();
  f["phase"].set_string_value(phase);
  pqxx::read_transaction txn(conn_);
  pqxx::result state = txn.exec_params(
      R"(SELECT COALESCE(array_to_string("originalLabels", ','), ''),
                COALESCE("backfilledAt"::text, ''), COALESCE("verifiedAt"::text, ''),
                COALESCE("contractedAt"::text, ''),
                COALESCE(("backfilledAt" + make_interval(secs => $1))::text, '')
         FROM "StatusMigration")",
      absl::ToDoubleSeconds(options_.compatibility_window));
  f["originalLabels"].set_string_value(state[0][0].as<std::string>());
  f["backfilledAt"].set_string_value(state[0][1].as<std::string>());
  f["verifiedAt"].set_string_value(state[0][2].as<std::string>());
  f["contractedAt"].set_string_value(state[0][3].as<std::string>());
  f["compatibilityWindowEnds"].set_string_value(state[0][4].as<std::string>());
  f["labels"].set_string_value(absl::StrJoin(EnumLabels(txn, kType), ","));
  EnumDependents deps = FindDependents(txn, kType);
  auto* columns = f["columns"].mutable_list_value();
  int64_t old_rows = 0;
  for (const EnumColumn& c : deps.columns) {
    google::protobuf::Struct col;
    auto& cf = *col.mutable_fields();
    cf["column"].set_string_value(absl::StrCat(c.table, ".", c.column));
    pqxx::result counts = txn.exec(absl::StrCat("SELECT ", c.column, "::text, count(*) FROM ",
                                                c.table, " GROUP BY 1 ORDER BY 1"));
    auto& per_label = *cf["counts"].mutable_struct_value()->mutable_fields();
    for (const pqxx::row& row : counts) {
      const std::string label = row[0].is_null() ? "NULL" : row[0].as<std::string>();
      per_label[label].set_number_value(row[1].as<double>());
      if (ParseLegacyStatus(label)) old_rows += row[1].as<int64_t>();
    }
    *columns->add_values()->mutable_struct_value() = col;
  }
  f["rowsWithOldLabels"].set_number_value(static_cast<double>(old_rows));
  if (txn.exec(absl::StrCat("SELECT to_regclass('", kBackup, "') IS NOT NULL"))[0][0].as<bool>()) {
    f["backupRows"].set_number_value(
        txn.exec(absl::StrCat("SELECT count(*) FROM ", kBackup))[0][0].as<double>());
  }
  for (const std::string& b : deps.blockers) {
    f["blockers"].mutable_list_value()->add_values()->set_string_value(b);
  }
  std::string next;
  if (phase == "none") next = "expand";
  if (phase == "expanded") next = "backfill";
  if (phase == "backfilled") next = "verify";
  if (phase == "verified") next = "contract (after the compatibility window)";
  if (phase == "contracted") next = "nothing: the change is complete";
  f["next"].set_string_value(next);

  if (options_.json) {
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(report, &text);
    out_ << text << "\n";
    return absl::OkStatus();
  }
  out_ << "booking store status migration: phase " << phase << " (next: " << next << ")\n"
       << "  labels now:        " << f["labels"].string_value() << "\n"
       << "  original labels:   " << f["originalLabels"].string_value() << "\n";
  if (!f["backfilledAt"].string_value().empty()) {
    out_ << "  backfilled at:     " << f["backfilledAt"].string_value()
         << " (compatibility window ends " << f["compatibilityWindowEnds"].string_value() << ")\n";
  }
  if (!f["verifiedAt"].string_value().empty()) {
    out_ << "  verified at:       " << f["verifiedAt"].string_value() << "\n";
  }
  for (const auto& v : columns->values()) {
    const auto& cf = v.struct_value().fields();
    out_ << "  " << cf.at("column").string_value() << ":";
    const auto& counts = cf.at("counts").struct_value().fields();
    std::vector<std::string> names;
    for (const auto& entry : counts) names.push_back(entry.first);
    std::sort(names.begin(), names.end());
    for (const std::string& label : names) {
      out_ << " " << label << "=" << static_cast<int64_t>(counts.at(label).number_value());
    }
    out_ << "\n";
  }
  out_ << "  rows with old labels: " << old_rows << "\n";
  if (f.count("backupRows") > 0) {
    out_ << "  backup rows:       " << static_cast<int64_t>(f["backupRows"].number_value()) << "\n";
  }
  for (const std::string& b : deps.blockers) out_ << "  BLOCKER: " << b << "\n";
  return absl::OkStatus();
}

// --- expand -----------------------------------------------------------------

absl::Status StatusMigration::Expand() {
  const std::string phase = Phase();
  if (phase.empty()) {
    return absl::FailedPreconditionError("no status-migration state; run `migrator up` first");
  }
  if (phase != "none") {
    out_ << "expand: nothing to do (phase " << phase << ")\n";
    return absl::OkStatus();
  }
  const std::vector<std::string> missing = MissingLabels(NewLabels());
  const int64_t rows = Count(conn_, absl::StrCat("SELECT count(*) FROM ", kBookingTable));
  out_ << "expand: add labels [" << absl::StrJoin(missing, ", ") << "] to " << kType
       << "; snapshot id, status, \"updatedAt\" of " << rows << " bookings into " << kBackup
       << "\n";
  if (options_.dry_run) return absl::OkStatus();

  if (absl::Status s = AddLabels(missing); !s.ok()) return s;
  // The backup keeps status as TEXT, so it never depends on either label set.
  // ref* is the row as the migrator last left it: a row still equal to it
  // has not moved on since.
  {
    pqxx::work txn(conn_);
    txn.exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", kBackup, R"( (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        "updatedAt" TIMESTAMP(3),
        "migrationTimestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "refStatus" TEXT NOT NULL,
        "refVersion" BIGINT NOT NULL,
        "refUpdatedAt" TIMESTAMP(3)))"));
    txn.commit();
  }
  Progress progress(progress_, "snapshot", rows, options_.progress_bar);
  std::string after;
  while (true) {
    pqxx::work txn(conn_);
    pqxx::result r = txn.exec_params(
        absl::StrCat(R"(WITH batch AS (
             SELECT id, status::text AS status, "updatedAt", version FROM "Booking"
             WHERE id > $1 ORDER BY id LIMIT $2),
           ins AS (
             INSERT INTO )",
                     kBackup,
                     R"( (id, status, "updatedAt", "refStatus", "refVersion", "refUpdatedAt")
             SELECT id, status, "updatedAt", status, version, "updatedAt" FROM batch
             ON CONFLICT (id) DO NOTHING)
           SELECT count(*), COALESCE(max(id), '') FROM batch)"),
        after, options_.batch_size);
    txn.commit();
    const int64_t n = r[0][0].as<int64_t>();
    if (n == 0) break;
    after = r[0][1].as<std::string>();
    progress.Add(n);
  }
  progress.Finish();
  SetPhase("none", "expanded", "expand",
           absl::StrCat("added ", missing.size(), " labels; snapshot of ", rows, " bookings"));
  out_ << "expand: done. Deploy booking-service now (it writes the new labels), then run "
          "`migrator backfill`.\n";
  return absl::OkStatus();
}

// --- backfill / rollback relabelling ------------------------------------------

absl::StatusOr<int64_t> StatusMigration::RelabelBookings(bool rollback) {
  const std::vector<std::string> from = rollback ? NewOnlyLabels() : OldOnlyLabels();
  const std::string reason = rollback ? kReasonRollback : kReasonBackfill;
  // Forward: the mapped label. Rollback: a row untouched since the migrator
  // changed it gets its backup value back; a row that moved on is
  // reverse-mapped. Either way the booking's version moves and the change
  // has its outbox event (its history entry), in the same transaction.
  const std::string target =
      rollback ? absl::StrCat("CASE WHEN before.b_untouched THEN before.b_backup ELSE ",
                              MapExpr("before.b_old", false, ""), " END")
               : MapExpr("before.b_old", true, options_.in_service_rule);
  const std::string sql = absl::StrCat(
      R"(WITH candidates AS (
           SELECT id FROM "Booking"
           WHERE status::text = ANY(string_to_array($1, ',')) AND id > $2
           ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED),
         before AS (
           SELECT b.id AS b_id, b.status::text AS b_old, b.version AS b_version,
                  b."updatedAt" AS b_updated, bk.status AS b_backup,
                  (bk.id IS NOT NULL AND b.version = bk."refVersion"
                   AND b.status::text = bk."refStatus"
                   AND b."updatedAt" IS NOT DISTINCT FROM bk."refUpdatedAt") AS b_untouched
           FROM "Booking" b JOIN candidates c ON c.id = b.id
           LEFT JOIN )",
      kBackup, R"( bk ON bk.id = b.id),
         changed AS (
           UPDATE "Booking" b SET status = ()",
      target, R"()::"BookingStatus", version = b.version + 1
           FROM before WHERE b.id = before.b_id
           RETURNING b.id, before.b_old, b.status::text AS new_status, b.version, b."updatedAt"),
         backup AS ()",
      rollback ? absl::StrCat("UPDATE ", kBackup, R"( bk SET "refStatus" = changed.new_status,
                  "refVersion" = changed.version, "refUpdatedAt" = changed."updatedAt"
                  FROM changed WHERE bk.id = changed.id)")
               : absl::StrCat("INSERT INTO ", kBackup,
                              R"( AS bk (id, status, "updatedAt", "refStatus", "refVersion",
                                         "refUpdatedAt")
                  SELECT id, b_old, "updatedAt", new_status, version, "updatedAt" FROM changed
                  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
                    "updatedAt" = EXCLUDED."updatedAt", "refStatus" = EXCLUDED."refStatus",
                    "refVersion" = EXCLUDED."refVersion", "refUpdatedAt" = EXCLUDED."refUpdatedAt")"),
      R"(),
         events AS (
           INSERT INTO "BookingOutbox"
             ("bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata)
           SELECT id, version, b_old, new_status, 'migrator', $4,
                  jsonb_build_object('migration', 'booking-status-v2')
           FROM changed),
         notified AS (SELECT pg_notify('booking_outbox', '') WHERE EXISTS (SELECT 1 FROM changed))
       SELECT (SELECT count(*) FROM changed), (SELECT COALESCE(max(id), '') FROM candidates),
              (SELECT count(*) FROM notified))");

  const int64_t total = Count(conn_,
                              R"(SELECT count(*) FROM "Booking"
                                 WHERE status::text = ANY(string_to_array($1, ',')))",
                              Csv(from));
  Progress progress(progress_, rollback ? "rollback" : "backfill", total, options_.progress_bar);
  int64_t changed = 0;
  absl::Duration longest_batch;
  // Passes until none is left; rows locked by writers are skipped and taken
  // in the next pass. A rollback stops after a few passes: running services
  // may legitimately keep writing new labels.
  for (int pass = 1;; ++pass) {
    std::string after;
    while (true) {
      int64_t n = 0;
      std::string last;
      const absl::Time batch_start = absl::Now();
      absl::Status s = WithLockRetry("relabel batch", [&](pqxx::work& txn) {
        pqxx::result r = txn.exec_params(sql, Csv(from), after, options_.batch_size, reason);
        n = r[0][0].as<int64_t>();
        last = r[0][1].as<std::string>();
      });
      if (!s.ok()) return s;
      longest_batch = std::max(longest_batch, absl::Now() - batch_start);
      if (last.empty()) break;
      after = last;
      changed += n;
      progress.Add(n);
      if (options_.throttle > absl::ZeroDuration()) absl::SleepFor(options_.throttle);
    }
    const int64_t left = Count(conn_,
                               R"(SELECT count(*) FROM "Booking"
                                  WHERE status::text = ANY(string_to_array($1, ',')))",
                               Csv(from));
    if (left == 0) break;
    if (rollback && pass >= 3) {
      out_ << "rollback: " << left
           << " bookings hold new labels written meanwhile (by running services); left as they "
              "are\n";
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  progress.Finish();
  out_ << (rollback ? "rollback" : "backfill") << ": longest batch (the longest a writer of "
       << "one of its rows could wait) " << absl::ToDoubleMilliseconds(longest_batch) << " ms\n";
  return changed;
}

absl::StatusOr<int64_t> StatusMigration::RelabelOtherColumns(bool rollback) {
  std::vector<EnumColumn> columns;
  {
    pqxx::read_transaction txn(conn_);
    columns = FindDependents(txn, kType).columns;
  }
  const std::vector<std::string> from = rollback ? NewOnlyLabels() : OldOnlyLabels();
  int64_t changed = 0;
  for (const EnumColumn& c : columns) {
    if (c.table == kBookingTable && c.column_name == "status") continue;
    // TID range batches: each visits a slice of the table's pages once.
    constexpr int64_t kPagesPerBatch = 8;
    for (int pass = 0; pass < 5 && CountLabels(conn_, c, from) > 0; ++pass) {
      const int64_t pages =
          Count(conn_, absl::StrCat("SELECT pg_relation_size('", c.table,
                                    "') / current_setting('block_size')::bigint + 1"));
      for (int64_t page = 0; page < pages; page += kPagesPerBatch) {
        absl::Status s = WithLockRetry("relabel " + c.table, [&](pqxx::work& txn) {
          pqxx::result r = txn.exec_params(
              absl::StrCat("UPDATE ", c.table, " SET ", c.column, " = (",
                           MapExpr(c.column + "::text", !rollback, ""), ")::", kType,
                           " WHERE ctid >= format('(%s,0)', $1::bigint)::tid"
                           "   AND ctid < format('(%s,0)', $2::bigint)::tid"
                           "   AND ",
                           c.column, "::text = ANY(string_to_array($3, ','))"),
              page, page + kPagesPerBatch, Csv(from));
          changed += r.affected_rows();
        });
        if (!s.ok()) return s;
      }
    }
    const int64_t left = CountLabels(conn_, c, from);
    if (left > 0 && !rollback) {
      return absl::UnavailableError(absl::StrCat(left, " rows of ", c.table, ".", c.column,
                                                 " still hold old labels; run backfill again"));
    }
  }
  return changed;
}

absl::Status StatusMigration::Backfill() {
  const std::string phase = Phase();
  if (phase.empty() || phase == "none") {
    return absl::FailedPreconditionError(
        "the new labels are not there yet: run `migrator expand` first");
  }
  if (phase == "contracted") {
    out_ << "backfill: nothing to do (phase contracted)\n";
    return absl::OkStatus();
  }
  if (!options_.in_service_rule.empty()) {
    try {
      const int64_t n = Count(conn_, absl::StrCat(R"(SELECT count(*) FROM "Booking"
                                                     WHERE status::text = 'IN_WORKSHOP' AND ()",
                                                  options_.in_service_rule, ")"));
      out_ << "backfill: the IN_SERVICE rule selects " << n << " IN_WORKSHOP bookings\n";
    } catch (const pqxx::sql_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--in-service-rule is not a valid condition on \"Booking\": ", e.what()));
    }
  }
  std::vector<EnumColumn> columns;
  {
    pqxx::read_transaction txn(conn_);
    columns = FindDependents(txn, kType).columns;
  }
  for (const EnumColumn& c : columns) {
    out_ << "backfill: " << c.table << "." << c.column << ": "
         << CountLabels(conn_, c, OldOnlyLabels()) << " rows with old labels\n";
  }
  if (options_.dry_run) return absl::OkStatus();
  absl::StatusOr<int64_t> bookings = RelabelBookings(false);
  if (!bookings.ok()) return bookings.status();
  absl::StatusOr<int64_t> others = RelabelOtherColumns(false);
  if (!others.ok()) return others.status();
  if (phase == "expanded") {
    SetPhase(phase, "backfilled", "backfill",
             absl::StrCat(*bookings, " bookings and ", *others, " other rows relabelled"));
  }
  out_ << "backfill: done: " << *bookings << " bookings (each with a history entry) and " << *others
       << " other rows relabelled; no old label is left. Next: `migrator verify`.\n";
  return absl::OkStatus();
}

// --- verify -------------------------------------------------------------------

absl::Status StatusMigration::Check(std::string* report) {
  pqxx::read_transaction txn(conn_);
  EnumDependents deps = FindDependents(txn, kType);
  std::vector<std::string> problems;
  for (const EnumColumn& c : deps.columns) {
    const int64_t n =
        txn.exec_params(absl::StrCat("SELECT count(*) FROM ", c.table, " WHERE ", c.column,
                                     "::text = ANY(string_to_array($1, ','))"),
                        Csv(OldOnlyLabels()))[0][0]
            .as<int64_t>();
    absl::StrAppend(report, "old labels in ", c.table, ".", c.column, ": ", n, "\n");
    if (n > 0)
      problems.push_back(absl::StrCat(n, " rows of ", c.table, ".", c.column,
                                      " hold old labels: run backfill again"));
  }
  if (!txn.exec(absl::StrCat("SELECT to_regclass('", kBackup, "') IS NULL"))[0][0].as<bool>()) {
    const std::string untouched =
        R"((b.version = bk."refVersion" AND b.status::text = bk."refStatus"
                                      AND b."updatedAt" IS NOT DISTINCT FROM bk."refUpdatedAt"))";
    pqxx::result r = txn.exec(
        absl::StrCat("SELECT count(*), count(*) FILTER (WHERE b.id IS NULL),"
                     " count(*) FILTER (WHERE b.id IS NOT NULL AND ",
                     untouched, "), count(*) FILTER (WHERE b.id IS NOT NULL AND NOT ", untouched,
                     "), count(*) FILTER (WHERE b.id IS NOT NULL AND ", untouched,
                     " AND NOT (b.status::text = ANY(", ForwardSetExpr("bk.status"),
                     "))), (SELECT count(*) FROM \"Booking\"),"
                     " (SELECT count(*) FROM \"Booking\" x WHERE NOT EXISTS (SELECT 1 FROM ",
                     kBackup,
                     " y WHERE y.id = x.id))"
                     " FROM ",
                     kBackup, " bk LEFT JOIN \"Booking\" b ON b.id = bk.id"));
    const int64_t backup = r[0][0].as<int64_t>(), deleted = r[0][1].as<int64_t>(),
                  same = r[0][2].as<int64_t>(), moved = r[0][3].as<int64_t>(),
                  wrong = r[0][4].as<int64_t>(), bookings = r[0][5].as<int64_t>(),
                  created = r[0][6].as<int64_t>();
    absl::StrAppend(report, "backup rows: ", backup, " = ", same, " as the migrator left them + ",
                    moved, " moved on since + ", deleted, " deleted since\n");
    absl::StrAppend(report, "bookings: ", bookings, " = ", same + moved, " in the backup + ",
                    created, " created after expand\n");
    if (backup != same + moved + deleted || bookings != same + moved + created) {
      problems.push_back("counts do not reconcile");
    }
    absl::StrAppend(report,
                    "untouched rows not equal to the mapping of their backup value: ", wrong, "\n");
    if (wrong > 0) {
      pqxx::result examples =
          txn.exec(absl::StrCat("SELECT b.id, bk.status, b.status::text FROM ", kBackup,
                                " bk JOIN \"Booking\" b ON b.id = bk.id WHERE ", untouched,
                                " AND NOT (b.status::text = ANY(", ForwardSetExpr("bk.status"),
                                ")) ORDER BY b.id LIMIT 10"));
      for (const pqxx::row& e : examples) {
        absl::StrAppend(report, "  booking ", e[0].c_str(), ": backup ", e[1].c_str(), ", now ",
                        e[2].c_str(), "\n");
      }
      problems.push_back(
          absl::StrCat(wrong, " bookings are not the mapping of their backup value"));
    }
    pqxx::result mapping =
        txn.exec(absl::StrCat("SELECT bk.status, b.status::text, count(*) FROM ", kBackup,
                              " bk JOIN \"Booking\" b ON b.id = bk.id WHERE ", untouched,
                              " AND bk.status <> b.status::text GROUP BY 1, 2 ORDER BY 1, 2"));
    for (const pqxx::row& m : mapping) {
      absl::StrAppend(report, "  ", m[0].c_str(), " -> ", m[1].c_str(), ": ", m[2].c_str(), "\n");
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrJoin(problems, "; "));
}

absl::Status StatusMigration::Verify() {
  const std::string phase = Phase();
  if (phase != "backfilled" && phase != "verified" && phase != "contracted") {
    return absl::FailedPreconditionError(absl::StrCat("verify needs a backfilled store (phase is ",
                                                      phase.empty() ? "unknown" : phase,
                                                      "): run `migrator backfill` first"));
  }
  std::string report;
  absl::Status s = Check(&report);
  out_ << report;
  if (!s.ok()) {
    out_ << "verify: FAILED: " << s.message() << "\n";
    return s;
  }
  if (phase == "backfilled" && !options_.dry_run) SetPhase(phase, "verified", "verify", "passed");
  out_ << "verify: passed\n";
  return absl::OkStatus();
}

// --- contract -------------------------------------------------------------------

absl::Status StatusMigration::SwapType(const std::vector<std::string>& labels, bool forward) {
  const LabelMap map = forward ? LabelMap(ForwardPreimage) : LabelMap(ReverseImage);
  const LabelMap one_to_one = [forward](absl::string_view l) -> std::vector<std::string> {
    if (forward) {
      if (auto old = ParseLegacyStatus(l)) return {std::string(Label(MapForward(*old)))};
      return {std::string(l)};
    }
    return ReverseImage(l);
  };
  EnumDependents deps;
  {
    pqxx::read_transaction txn(conn_);
    deps = FindDependents(txn, kType);
  }
  if (!deps.blockers.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("objects depend on ", kType, " that the migrator cannot carry over: ",
                     absl::StrJoin(deps.blockers, "; "), ". Handle them by hand, then run again"));
  }
  // Plan every rewritten definition first: refuse before changing anything.
  struct IndexPlan {
    DependentIndex index;
    std::string next_name;
    std::string create;
  };
  std::vector<IndexPlan> index_plans;
  for (const DependentIndex& idx : deps.indexes) {
    const std::string raw_name =
        idx.name.front() == '"' ? idx.name.substr(1, idx.name.size() - 2) : idx.name;
    IndexPlan plan{idx, QuoteIdent(Suffixed(raw_name, "__next")), ""};
    std::string def = idx.definition;
    const size_t using_pos = def.find(" USING ");
    std::string head = def.substr(0, using_pos), tail = def.substr(using_pos);
    for (const EnumColumn& c : deps.columns) {
      if (c.table == idx.table) tail = ReplaceIdentifier(tail, c.column, Shadow(c));
    }
    absl::StatusOr<std::string> translated = TranslateLabels(tail, kType, kNextType, map);
    if (!translated.ok()) return translated.status();
    head = absl::StrReplaceAll(
        head, {{absl::StrCat("INDEX ", idx.name, " ON"),
                absl::StrCat("INDEX CONCURRENTLY IF NOT EXISTS ", plan.next_name, " ON")}});
    plan.create = head + *translated;
    index_plans.push_back(std::move(plan));
  }
  std::vector<std::pair<const DependentView*, std::string>> view_plans;
  for (const DependentView& v : deps.views) {
    absl::StatusOr<std::string> def = TranslateLabels(v.definition, kType, kType, map);
    if (!def.ok()) return def.status();
    view_plans.emplace_back(&v, *def);
  }
  std::vector<std::pair<const EnumColumn*, std::string>> defaults;
  for (const EnumColumn& c : deps.columns) {
    std::string def;
    if (!c.default_expr.empty()) {
      absl::StatusOr<std::string> t = TranslateLabels(c.default_expr, kType, kNextType, one_to_one);
      if (!t.ok()) return t.status();
      def = *t;
    }
    defaults.emplace_back(&c, def);
  }
  out_ << (forward ? "contract" : "rollback") << ": new type with [" << absl::StrJoin(labels, ", ")
       << "]; " << deps.columns.size() << " column(s), " << index_plans.size() << " index(es), "
       << view_plans.size() << " view(s) carried over\n";
  for (const auto& p : index_plans) out_ << "  index: " << p.create << "\n";
  for (const auto& [v, def] : view_plans) out_ << "  view " << v->name << ":" << def << "\n";
  for (const auto& [c, def] : defaults) {
    if (!def.empty())
      out_ << "  default of " << c->table << "." << c->column << ": " << def << "\n";
  }
  if (options_.dry_run) return absl::OkStatus();

  // 1. The new type (a leftover of an interrupted run with other labels is replaced).
  {
    pqxx::work txn(conn_);
    const std::vector<std::string> existing = EnumLabels(txn, kNextType);
    if (!existing.empty() && existing != labels) {
      for (const EnumColumn& c : deps.columns) {
        txn.exec(absl::StrCat("ALTER TABLE ", c.table, " DROP COLUMN IF EXISTS ", Shadow(c)));
      }
      txn.exec(absl::StrCat("DROP TYPE ", kNextType, " CASCADE"));
    }
    if (existing != labels) {
      txn.exec(absl::StrCat("CREATE TYPE ", kNextType, " AS ENUM (", SqlList(labels), ")"));
    }
    txn.commit();
  }
  // 2. A shadow column per column, kept in sync by a trigger from now on.
  for (const EnumColumn& c : deps.columns) {
    const std::string fn =
        QuoteIdent(Suffixed(absl::StrCat(Plain(c.table), "_", c.column_name), "__next_sync"));
    absl::Status s = WithTableLockRetry("shadow column " + c.column, [&](pqxx::work& txn) {
      txn.exec(absl::StrCat("ALTER TABLE ", c.table, " ADD COLUMN IF NOT EXISTS ", Shadow(c), " ",
                            kNextType));
      txn.exec(absl::StrCat("CREATE OR REPLACE FUNCTION ", fn,
                            "() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN NEW.", Shadow(c),
                            " := (", MapExpr("NEW." + c.column + "::text", forward, ""),
                            ")::", kNextType, "; RETURN NEW; END $f$"));
      txn.exec(absl::StrCat("CREATE OR REPLACE TRIGGER ", fn, " BEFORE INSERT OR UPDATE ON ",
                            c.table, " FOR EACH ROW EXECUTE FUNCTION ", fn, "()"));
    });
    if (!s.ok()) return s;
  }
  // 3. Copy in short batches (TID ranges: each page visited once).
  for (const EnumColumn& c : deps.columns) {
    const int64_t pages =
        Count(conn_, absl::StrCat("SELECT pg_relation_size('", c.table,
                                  "') / current_setting('block_size')::bigint + 1"));
    Progress progress(progress_, absl::StrCat("copy ", c.table, ".", c.column), pages,
                      options_.progress_bar, "pages");
    constexpr int64_t kPagesPerBatch = 8;
    const std::string value =
        absl::StrCat("(", MapExpr(c.column + "::text", forward, ""), ")::", kNextType);
    for (int64_t page = 0; page < pages; page += kPagesPerBatch) {
      absl::Status s = WithLockRetry("copy " + c.column, [&](pqxx::work& txn) {
        txn.exec_params(absl::StrCat("UPDATE ", c.table, " SET ", Shadow(c), " = ", value,
                                     " WHERE ctid >= format('(%s,0)', $1::bigint)::tid"
                                     "   AND ctid < format('(%s,0)', $2::bigint)::tid"
                                     "   AND ",
                                     Shadow(c), " IS DISTINCT FROM ", value),
                        page, page + kPagesPerBatch);
      });
      if (!s.ok()) return s;
      progress.Add(std::min(kPagesPerBatch, pages - page));
      if (options_.throttle > absl::ZeroDuration()) absl::SleepFor(options_.throttle);
    }
    progress.Finish();
    // NOT NULL without a scan under an exclusive lock: a validated CHECK
    // (validation only takes SHARE UPDATE EXCLUSIVE) lets SET NOT NULL skip it.
    if (c.not_null) {
      const std::string check = QuoteIdent(Suffixed(c.column_name, "__next_not_null"));
      absl::Status s = WithTableLockRetry("not-null check " + c.column, [&](pqxx::work& txn) {
        if (txn.exec_params(
                   "SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                   c.table, Suffixed(c.column_name, "__next_not_null"))
                .empty()) {
          txn.exec(absl::StrCat("ALTER TABLE ", c.table, " ADD CONSTRAINT ", check, " CHECK (",
                                Shadow(c), " IS NOT NULL) NOT VALID"));
        }
      });
      if (!s.ok()) return s;
      s = WithLockRetry("validate " + c.column, [&](pqxx::work& txn) {
        txn.exec(absl::StrCat("ALTER TABLE ", c.table, " VALIDATE CONSTRAINT ", check));
      });
      if (!s.ok()) return s;
    }
  }
  // 4. Indexes on the shadow columns, built without blocking writers.
  for (const IndexPlan& p : index_plans) {
    pqxx::nontransaction txn(conn_);
    pqxx::result state = txn.exec_params(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
        absl::StrCat(p.index.qualified.substr(0, p.index.qualified.size() - p.index.name.size()),
                     p.next_name));
    if (!state.empty() && !state[0][0].as<bool>()) {  // left invalid by an interrupted build
      txn.exec(
          absl::StrCat("DROP INDEX CONCURRENTLY IF EXISTS ",
                       p.index.qualified.substr(0, p.index.qualified.size() - p.index.name.size()),
                       p.next_name));
    }
    txn.exec(p.create);
  }
  // 5. The swap: one short transaction under ACCESS EXCLUSIVE locks, taken
  //    with lock_timeout and retried, so writers never queue for long. Every
  //    statement in it is a catalog change: no scan, no rewrite.
  std::vector<std::string> tables;
  for (const EnumColumn& c : deps.columns) {
    if (std::find(tables.begin(), tables.end(), c.table) == tables.end()) tables.push_back(c.table);
  }
  std::sort(tables.begin(), tables.end());
  absl::Time locked;
  absl::Status swapped = WithTableLockRetry("swap", [&](pqxx::work& txn) {
    for (const std::string& t : tables) {
      txn.exec(absl::StrCat("LOCK TABLE ", t, " IN ACCESS EXCLUSIVE MODE"));
    }
    locked = absl::Now();
    for (auto it = view_plans.rbegin(); it != view_plans.rend(); ++it) {
      txn.exec(absl::StrCat("DROP VIEW ", it->first->name));
    }
    for (const auto& [c, def] : defaults) {
      const std::string fn =
          QuoteIdent(Suffixed(absl::StrCat(Plain(c->table), "_", c->column_name), "__next_sync"));
      txn.exec(absl::StrCat("DROP TRIGGER ", fn, " ON ", c->table));
      txn.exec(absl::StrCat("DROP FUNCTION ", fn, "()"));
      txn.exec(absl::StrCat("ALTER TABLE ", c->table, " DROP COLUMN ", c->column));
      txn.exec(
          absl::StrCat("ALTER TABLE ", c->table, " RENAME COLUMN ", Shadow(*c), " TO ", c->column));
      if (!def.empty()) {
        txn.exec(absl::StrCat("ALTER TABLE ", c->table, " ALTER COLUMN ", c->column,
                              " SET DEFAULT ", def));
      }
      if (c->not_null) {
        txn.exec(
            absl::StrCat("ALTER TABLE ", c->table, " ALTER COLUMN ", c->column, " SET NOT NULL"));
        txn.exec(absl::StrCat("ALTER TABLE ", c->table, " DROP CONSTRAINT ",
                              QuoteIdent(Suffixed(c->column_name, "__next_not_null"))));
      }
    }
    for (const IndexPlan& p : index_plans) {
      txn.exec(
          absl::StrCat("ALTER INDEX ",
                       p.index.qualified.substr(0, p.index.qualified.size() - p.index.name.size()),
                       p.next_name, " RENAME TO ", p.index.name));
    }
    txn.exec(absl::StrCat("DROP TYPE ", kType));
    txn.exec(absl::StrCat("ALTER TYPE ", kNextType, " RENAME TO ", kType));
    for (const auto& [v, def] : view_plans) {
      txn.exec(absl::StrCat("CREATE VIEW ", v->name,
                            v->options.empty() ? "" : absl::StrCat(" WITH (", v->options, ")"),
                            " AS", def));
      txn.exec(absl::StrCat("ALTER VIEW ", v->name, " OWNER TO ", QuoteIdent(v->owner)));
      for (const std::string& grant : v->grants) txn.exec(grant);
    }
    if (forward) {
      txn.exec(R"(UPDATE "StatusMigration" SET phase = 'contracted', "contractedAt" = now(),
                                             "updatedAt" = now())");
      txn.exec(R"(INSERT INTO "StatusMigrationLog" (action, "fromPhase", "toPhase", detail)
                  VALUES ('contract', 'verified', 'contracted', 'old labels removed'))");
    } else {
      txn.exec(absl::StrCat("DROP TABLE IF EXISTS ", kBackup));
      txn.exec(R"(UPDATE "StatusMigration" SET phase = 'none', "updatedAt" = now())");
      txn.exec(R"(INSERT INTO "StatusMigrationLog" (action, "fromPhase", "toPhase", detail)
                  VALUES ('rollback', 'expanded', 'none', 'new labels removed'))");
    }
  });
  if (swapped.ok()) {
    out_ << (forward ? "contract" : "rollback") << ": the swap held ACCESS EXCLUSIVE on "
         << absl::StrJoin(tables, ", ") << " for "
         << absl::ToDoubleMilliseconds(absl::Now() - locked) << " ms\n";
  }
  return swapped;
}

absl::Status StatusMigration::Contract() {
  const std::string phase = Phase();
  if (phase == "contracted") {
    out_ << "contract: nothing to do (phase contracted)\n";
    return absl::OkStatus();
  }
  if (phase != "verified") {
    return absl::FailedPreconditionError(
        absl::StrCat("contract refuses: verify has not passed (phase is ",
                     phase.empty() ? "unknown" : phase, "); run `migrator verify` first"));
  }
  std::string report;
  if (absl::Status s = Check(&report); !s.ok()) {
    out_ << report;
    return absl::FailedPreconditionError(absl::StrCat(
        "contract refuses: verify fails now (", s.message(), "); run backfill and verify again"));
  }
  bool window_passed = false;
  std::string window_ends;
  {
    pqxx::read_transaction txn(conn_);
    pqxx::result w = txn.exec_params(
        R"(SELECT now() >= "backfilledAt" + make_interval(secs => $1),
                  ("backfilledAt" + make_interval(secs => $1))::text
           FROM "StatusMigration")",
        absl::ToDoubleSeconds(options_.compatibility_window));
    window_passed = w[0][0].as<bool>();
    window_ends = w[0][1].as<std::string>();
  }
  if (!window_passed) {
    if (!options_.force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "contract refuses: the compatibility window ends at ", window_ends,
          "; old status names are accepted until then. Wait, or pass --force (logged)"));
    }
    LogWarning("contract forced before the compatibility window ended",
               {{"window_ends", window_ends}});
    out_ << "contract: FORCED before the compatibility window ends (" << window_ends << ")\n";
    if (!options_.dry_run) {
      pqxx::work log(conn_);
      log.exec_params(
          R"(INSERT INTO "StatusMigrationLog" (action, "fromPhase", "toPhase", detail)
             VALUES ('contract --force', 'verified', 'verified', $1))",
          absl::StrCat("window ends ", window_ends));
      log.commit();
    }
  }
  absl::Status s = SwapType(NewLabels(), /*forward=*/true);
  if (!s.ok() || options_.dry_run) return s;
  {
    pqxx::nontransaction txn(conn_);
    txn.exec(R"(ANALYZE "Booking")");
  }
  out_ << "contract: done: " << kType << " holds only the new labels.\n";
  return absl::OkStatus();
}

// --- rollback -------------------------------------------------------------------

absl::Status StatusMigration::Rollback(const std::string& undo) {
  const std::string phase = Phase();
  if (phase.empty()) {
    return absl::FailedPreconditionError("no status-migration state; run `migrator up` first");
  }
  // Named, a rollback is idempotent (a retried Job never undoes two phases):
  // it undoes that phase if it is the latest, does nothing if it is undone
  // already, and refuses while a later phase stands.
  if (!undo.empty()) {
    const std::vector<std::string> order = {"none", "expanded", "backfilled", "verified",
                                            "contracted"};
    const std::string latest = phase == "contracted"                          ? "contract"
                               : phase == "backfilled" || phase == "verified" ? "backfill"
                               : phase == "expanded"                          ? "expand"
                                                                              : "";
    const auto rank = [&](const std::string& p) {
      return std::find(order.begin(), order.end(), p) - order.begin();
    };
    const std::string undone_phase = undo == "contract"   ? "contracted"
                                     : undo == "backfill" ? "backfilled"
                                                          : "expanded";
    if (undo != latest) {
      if (rank(phase) < rank(undone_phase)) {
        out_ << "rollback " << undo << ": nothing to do (phase " << phase << ")\n";
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(absl::StrCat("rollback ", undo, " refuses: phase is ",
                                                        phase, "; roll back ", latest, " first"));
    }
  }
  if (phase == "none") {
    out_ << "rollback: nothing to roll back (phase none)\n";
    return absl::OkStatus();
  }
  if (phase == "contracted") {
    const std::vector<std::string> missing = MissingLabels(OldOnlyLabels());
    out_ << "rollback of contract: add the old labels [" << absl::StrJoin(missing, ", ")
         << "] back\n";
    if (options_.dry_run) return absl::OkStatus();
    if (absl::Status s = AddLabels(missing); !s.ok()) return s;
    SetPhase(phase, "verified", "rollback", "old labels added back");
    out_ << "rollback: done (phase verified). Old status names can be written again.\n";
    return absl::OkStatus();
  }
  if (phase == "backfilled" || phase == "verified") {
    const int64_t rows = Count(conn_,
                               R"(SELECT count(*) FROM "Booking"
                                  WHERE status::text = ANY(string_to_array($1, ',')))",
                               Csv(NewOnlyLabels()));
    out_ << "rollback of backfill: " << rows
         << " bookings hold new labels: untouched ones get their backup value back, the others "
            "are reverse-mapped (each with a history entry)\n";
    if (options_.dry_run) return absl::OkStatus();
    absl::StatusOr<int64_t> bookings = RelabelBookings(true);
    if (!bookings.ok()) return bookings.status();
    absl::StatusOr<int64_t> others = RelabelOtherColumns(true);
    if (!others.ok()) return others.status();
    SetPhase(phase, "expanded", "rollback",
             absl::StrCat(*bookings, " bookings and ", *others, " other rows relabelled back"));
    out_ << "rollback: done (phase expanded): " << *bookings << " bookings relabelled back.\n";
    return absl::OkStatus();
  }
  // phase == expanded: relabel what services wrote, then remove the labels.
  std::vector<std::string> original;
  {
    pqxx::read_transaction txn(conn_);
    pqxx::result r =
        txn.exec(R"(SELECT array_to_string("originalLabels", ',') FROM "StatusMigration")");
    if (!r[0][0].is_null()) original = absl::StrSplit(r[0][0].as<std::string>(), ',');
  }
  if (original.empty()) {
    return absl::FailedPreconditionError(
        "the original label set was not recorded; cannot roll back expand");
  }
  out_ << "rollback of expand: relabel bookings holding new labels, then replace " << kType
       << " by one with the original labels [" << absl::StrJoin(original, ", ") << "] and drop "
       << kBackup
       << ". Stop booking-service first (or deploy the old one): it needs the new labels.\n";
  if (!options_.dry_run) {
    absl::StatusOr<int64_t> bookings = RelabelBookings(true);
    if (!bookings.ok()) return bookings.status();
    absl::StatusOr<int64_t> others = RelabelOtherColumns(true);
    if (!others.ok()) return others.status();
  }
  absl::Status s = SwapType(original, /*forward=*/false);
  if (!s.ok() || options_.dry_run) return s;
  LogInfo("phase changed", {{"action", "rollback"}, {"from", "expanded"}, {"to", "none"}});
  out_ << "rollback: done (phase none): the store has its original labels again.\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
