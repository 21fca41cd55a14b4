#include "migrator/partition_history.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "migrator/db_failure.h"
#include "migrator/exit_codes.h"
#include "migrator/ledger.h"
#include "migrator/partition_inventory.h"
#include "migrator/partition_steps.h"
#include "pqxx/pqxx"

namespace booking::migrator {
namespace {

constexpr char kLockNotAvailable[] = "55P03";
constexpr char kBefore[] = "BookingStatusHistory_before";

// Where the table stands, from the catalog.
struct Shape {
  bool partitioned = false;
  bool by_time = false;      // partitioned by range of "recordedAt"
  bool has_bound = false;    // the CHECK that makes the old table a partition
  bool bound_valid = false;  // validated
  bool bound_ours = false;   // exactly CHECK ("recordedAt" < 'B')
  bool bound_near = false;   // B less than a week away: too close to swap in time
  std::string bound;         // B, 'YYYY-MM-DD HH:MI:SS' (the first partition's end)
};

Shape ReadShape(pqxx::transaction_base& txn) {
  Shape s;
  const pqxx::row t = txn.exec1(R"(SELECT relkind = 'p' AS partitioned,
        COALESCE(pg_get_partkeydef(oid), '') = 'RANGE ("recordedAt")' AS by_time
      FROM pg_class WHERE oid = to_regclass('"BookingStatusHistory"'))");
  s.partitioned = t["partitioned"].as<bool>();
  s.by_time = t["by_time"].as<bool>();
  const pqxx::result r = s.partitioned ? txn.exec(R"(SELECT true AS valid, true AS ours,
                   (regexp_match(pg_get_expr(relpartbound, oid), 'TO \(''([^'']+)''\)'))[1] AS bound
                 FROM pg_class WHERE oid = to_regclass('"BookingStatusHistory_before"'))")
                                       : txn.exec_params(
                                             R"(SELECT convalidated AS valid, bound,
                     regexp_replace(pg_get_constraintdef(oid), ' NOT VALID$', '') = format(
                       'CHECK (("recordedAt" < %L::timestamp without time zone))', bound) AS ours
                   FROM (SELECT oid, convalidated,
                           (regexp_match(pg_get_constraintdef(oid), '''([^'']+)'''))[1] AS bound
                         FROM pg_constraint
                         WHERE conrelid = to_regclass('"BookingStatusHistory"')
                           AND conname = $1) AS c)",
                                             kBeforeBound);
  if (r.empty() || r[0]["bound"].is_null()) return s;
  s.has_bound = true;
  s.bound_valid = r[0]["valid"].as<bool>();
  s.bound_ours = !r[0]["ours"].is_null() && r[0]["ours"].as<bool>();
  s.bound = r[0]["bound"].as<std::string>();
  s.bound_near =
      txn.exec_params(R"(SELECT $1::timestamp < timezone('UTC', now()) + interval '7 days')",
                      s.bound)[0][0]
          .as<bool>();
  return s;
}

// The first partition's end: the start of the month after next (UTC), so
// that the old table takes every row until the change and a month beyond.
std::string NewBound(pqxx::transaction_base& txn) {
  return txn
      .exec1(R"(SELECT (date_trunc('month', timezone('UTC', now()))
                              + interval '2 months')::text)")[0]
      .as<std::string>();
}

absl::Status AddBound(pqxx::connection& conn, const PartitionOptions& options, Shape& shape,
                      std::ostream& out) {
  return WithShortLocks(conn, options, [&](pqxx::work& txn) -> absl::Status {
    if (shape.has_bound) {  // too near to swap before rows reach it: a later one
      txn.exec(absl::StrCat(R"(ALTER TABLE "BookingStatusHistory" DROP CONSTRAINT )",
                            txn.quote_name(kBeforeBound)));
    }
    shape.bound = NewBound(txn);
    txn.exec(absl::StrCat(R"(ALTER TABLE "BookingStatusHistory" ADD CONSTRAINT )",
                          txn.quote_name(kBeforeBound), R"( CHECK ("recordedAt" < )",
                          txn.quote(shape.bound), "::timestamp) NOT VALID"));
    out << "partition-history: rows recorded before " << shape.bound
        << " stay in the table as it is (CHECK added NOT VALID: no scan)\n";
    return absl::OkStatus();
  });
}

absl::Status ValidateBound(pqxx::connection& conn, const PartitionOptions& options,
                           std::ostream& out) {
  const absl::Time start = absl::Now();
  absl::Status s = WithShortLocks(conn, options, [&](pqxx::work& txn) {
    txn.exec(absl::StrCat(R"(ALTER TABLE "BookingStatusHistory" VALIDATE CONSTRAINT )",
                          txn.quote_name(kBeforeBound)));
    return absl::OkStatus();
  });
  if (s.ok()) {
    out << "partition-history: CHECK validated in " << absl::FormatDuration(absl::Now() - start)
        << " (a scan beside the writers: SHARE UPDATE EXCLUSIVE)\n";
  }
  return s;
}

absl::Status Convert(pqxx::connection& conn, const PartitionOptions& options, std::ostream& out) {
  Shape shape;
  {
    pqxx::read_transaction txn(conn);
    shape = ReadShape(txn);
    if (shape.partitioned && shape.by_time && shape.has_bound) return absl::OkStatus();
    if (shape.partitioned) {
      return RefusedForDependents(
          {"the table is partitioned, but not by this change (by range of "
           "\"recordedAt\" with \"BookingStatusHistory_before\" first)"});
    }
    if (shape.has_bound && !shape.bound_ours) {
      return RefusedForDependents(
          {absl::StrCat("constraint ", kBeforeBound, " is not the one this change adds")});
    }
    if (std::vector<std::string> unknown = UnknownDependents(txn); !unknown.empty()) {
      return RefusedForDependents(unknown);
    }
  }
  if (options.dry_run) {
    out << "partition-history (dry run): the table is not partitioned; a run adds the bound "
           "CHECK, validates it, swaps in the partitioned table and attaches the old one as "
        << kBefore << (shape.has_bound ? absl::StrCat(" (bound ", shape.bound, ")") : "") << "\n";
    return absl::OkStatus();
  }
  if (!shape.has_bound || shape.bound_near) {
    if (absl::Status s = AddBound(conn, options, shape, out); !s.ok()) return s;
    shape.bound_valid = false;
  }
  if (!shape.bound_valid) {
    if (absl::Status s = ValidateBound(conn, options, out); !s.ok()) return s;
  }
  return SwapToPartitioned(conn, options, shape.bound, out);
}

}  // namespace

absl::Status WithShortLocks(pqxx::connection& conn, const PartitionOptions& options,
                            const std::function<absl::Status(pqxx::work&)>& body) {
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::work txn(conn);
      txn.exec(absl::StrCat("SET LOCAL lock_timeout = ",
                            absl::ToInt64Milliseconds(options.lock_timeout)));
      if (absl::Status s = body(txn); !s.ok()) return s;
      txn.commit();
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != kLockNotAvailable || attempt >= options.lock_retries) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * attempt, 2000)));
    }
  }
}

absl::Status RefusedForDependents(const std::vector<std::string>& problems) {
  return WithExitCode(
      absl::FailedPreconditionError(absl::StrCat(
          "refused; nothing was changed: \"BookingStatusHistory\" has what partitioning would "
          "not carry: ",
          absl::StrJoin(problems, "; "),
          ". Drop or change each (a view or function can be made again on the partitioned table "
          "afterwards), then run `migrator partition-history` again")),
      kExitRefused);
}

absl::Status PartitionHistory(const StoreTarget& target, const PartitionOptions& options,
                              std::ostream& out) {
  auto conn = ConnectStore(StoreKind::kHistory, target.url);
  if (!conn.ok()) return conn.status();
  try {
    if (absl::Status s = EnterStore(**conn, target, false); !s.ok()) return s;
    if (absl::Status s = AcquireStoreLock(**conn, StoreKind::kHistory, options.lock_wait);
        !s.ok()) {
      return s;
    }
    {
      pqxx::read_transaction txn(**conn);
      if (txn.exec(R"(SELECT to_regclass('"BookingStatusHistoryKeysStart"') IS NULL)")[0][0]
              .as<bool>()) {
        return WithExitCode(
            absl::FailedPreconditionError("the history store lacks its global keys (schema step "
                                          "0014_history_keys): run `migrator up` first"),
            kExitRefused);
      }
    }
    if (absl::Status s = Convert(**conn, options, out); !s.ok()) return s;
    return EnsurePartitions(**conn, options, out);
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

}  // namespace booking::migrator
