#include "migrator/status_enum/verify.h"

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/plan.h"

namespace booking::migrator {
namespace {

// The labels an untouched booking may hold for its backup value (the
// mapping; IN_WORKSHOP may also have become IN_SERVICE).
std::string ForwardSetSql(Tx& tx, const std::string& expr) {
  std::string sql = absl::StrCat("CASE ", expr);
  for (const std::string& l : OldOnlyLabels()) {
    std::vector<std::string> targets = Preimage(l);
    std::string list;
    for (const std::string& t : targets)
      absl::StrAppend(&list, list.empty() ? "" : ", ", tx.Quote(t));
    absl::StrAppend(&sql, " WHEN ", tx.Quote(l), " THEN ARRAY[", list, "]");
  }
  return absl::StrCat(sql, " ELSE ARRAY[", expr, "] END");
}

constexpr char kUntouched[] =
    R"((b.version = bk."refVersion" AND b.status::text = bk."refStatus"
        AND b."updatedAt" IS NOT DISTINCT FROM bk."refUpdatedAt"))";

// The backup's rows by what became of them, and the bookings (all, and
// those created after expand), into `r`.
void CountBackup(Tx& tx, const StoreInfo& store, const std::string& backup,
                 const std::string& wrong_cond, VerifyReport& r) {
  const pqxx::row c = tx.Exec(absl::StrCat(
      "SELECT count(*) AS backup_rows,"
      " count(*) FILTER (WHERE b.id IS NULL) AS deleted,"
      " count(*) FILTER (WHERE b.id IS NOT NULL AND ",
      kUntouched, ") AS untouched, count(*) FILTER (WHERE b.id IS NOT NULL AND NOT ", kUntouched,
      ") AS moved_on, count(*) FILTER (WHERE b.id IS NOT NULL AND ", wrong_cond,
      ") AS wrong, (SELECT count(*) FROM ", store.table, ") AS bookings, (SELECT count(*) FROM ",
      store.table, " x WHERE NOT EXISTS (SELECT 1 FROM ", backup,
      " y WHERE y.id = x.id)) AS created_after_expand FROM ", backup, " bk LEFT JOIN ", store.table,
      " b ON b.id = bk.id"))[0];
  r.backup_rows = c["backup_rows"].as<int64_t>();
  r.deleted = c["deleted"].as<int64_t>();
  r.untouched = c["untouched"].as<int64_t>();
  r.moved_on = c["moved_on"].as<int64_t>();
  r.wrong = c["wrong"].as<int64_t>();
  r.bookings = c["bookings"].as<int64_t>();
  r.created_after_expand = c["created_after_expand"].as<int64_t>();
}

void CheckBackup(Tx& tx, const StoreInfo& store, VerifyReport& r) {
  const std::string backup = tx.Name(kBackupTable);
  const std::string wrong_cond = absl::StrCat(kUntouched, " AND NOT (b.status::text = ANY (",
                                              ForwardSetSql(tx, "bk.status"), "))");
  CountBackup(tx, store, backup, wrong_cond, r);
  if (r.backup_rows != r.untouched + r.moved_on + r.deleted ||
      r.bookings != r.untouched + r.moved_on + r.created_after_expand) {
    r.problems.push_back("counts do not reconcile");
  }
  if (r.wrong > 0) {
    for (const pqxx::row& e :
         tx.Exec(absl::StrCat("SELECT b.id AS id, bk.status AS backup, b.status::text AS now FROM ",
                              backup, " bk JOIN ", store.table, " b ON b.id = bk.id WHERE ",
                              wrong_cond, " ORDER BY b.id LIMIT 10"))) {
      r.wrong_examples.push_back(absl::StrCat("booking ", e["id"].c_str(), ": backup ",
                                              e["backup"].c_str(), ", now ", e["now"].c_str()));
    }
    r.problems.push_back(
        absl::StrCat(r.wrong, " bookings are not the mapping of their backup value"));
  }
  for (const pqxx::row& m : tx.Exec(
           absl::StrCat("SELECT bk.status AS before, b.status::text AS after, count(*) AS n FROM ",
                        backup, " bk JOIN ", store.table, " b ON b.id = bk.id WHERE ", kUntouched,
                        " AND bk.status <> b.status::text GROUP BY 1, 2 ORDER BY 1, 2"))) {
    r.mapping.push_back(
        absl::StrCat(m["before"].c_str(), " -> ", m["after"].c_str(), ": ", m["n"].c_str()));
  }
}

// Values of the type inside other values (arrays, rows of a table, domains,
// ranges) are never relabelled: any old label there would be left behind.
void CheckValuesInside(Tx& tx, const StatusPlan& plan, VerifyReport& r) {
  std::string words;
  for (const std::string& l : OldOnlyLabels()) absl::StrAppend(&words, words.empty() ? "" : "|", l);
  const std::string pattern = absl::StrCat("\\m(", words, ")\\M");
  for (const PlanObject& o : plan.objects()) {
    if (o.printed_column().empty() || o.kind() == "column" || !o.schema_usage()) continue;
    try {
      pqxx::subtransaction sub(dynamic_cast<pqxx::dbtransaction&>(tx.raw()));
      const int64_t n = sub.exec_params(absl::StrCat("SELECT count(*) AS n FROM ", o.table(),
                                                     " WHERE ", o.printed_column(), "::text ~ $1"),
                                        pattern)[0]["n"]
                            .as<int64_t>();
      sub.commit();
      r.old_labels.emplace_back(o.name(), n);
      if (n > 0) {
        r.problems.push_back(absl::StrCat(n, " rows of ", o.name(), " (", o.kind(),
                                          ") hold old labels inside their values"));
      }
    } catch (const pqxx::sql_error& e) {
      r.problems.push_back(absl::StrCat("cannot read ", o.name(), ": ", e.what()));
    }
  }
}

}  // namespace

absl::StatusOr<VerifyReport> CheckStore(PhaseContext& ctx, const StatusPlan& plan,
                                        const std::string& write_labels) {
  VerifyReport r;
  r.writers_on_old_labels = write_labels == "old";
  if (r.writers_on_old_labels) {
    r.problems.push_back(
        "a rollback of backfill switched writers to the old labels; run backfill again first");
  }
  const std::string old_labels = TextArrayLiteral(OldOnlyLabels());
  for (const std::string& refusal : Refusals(plan)) {
    r.problems.push_back(absl::StrCat("the plan refuses ", refusal));
  }
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    CheckValuesInside(tx, plan, r);
    if (!plan.carryable()) return;  // said above: counts may not even be readable
    for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
      const int64_t n = tx.Params(absl::StrCat("SELECT count(*) AS n FROM ", c->table(), " WHERE ",
                                               c->printed_column(), "::text = ANY ($1::text[])"),
                                  old_labels)[0]["n"]
                            .as<int64_t>();
      r.old_labels.emplace_back(c->name(), n);
      if (n > 0) {
        r.problems.push_back(
            absl::StrCat(n, " rows of ", c->name(), " hold old labels: run backfill again"));
      }
    }
    r.has_backup =
        !tx.Params("SELECT 1 FROM pg_class WHERE oid = to_regclass($1)", tx.Name(kBackupTable))
             .empty();
    if (r.has_backup) CheckBackup(tx, ctx.store, r);
  });
  if (!read.ok()) return read;
  return r;
}

std::string VerifyReport::Text() const {
  std::string out;
  for (const auto& [column, n] : old_labels) {
    absl::StrAppend(&out, "old labels in ", column, ": ", n, "\n");
  }
  if (has_backup) {
    absl::StrAppend(&out, "backup rows: ", backup_rows, " = ", untouched,
                    " as the migrator left them + ", moved_on, " moved on since + ", deleted,
                    " deleted since\n");
    absl::StrAppend(&out, "bookings: ", bookings, " = ", untouched + moved_on, " in the backup + ",
                    created_after_expand, " created after expand\n");
    absl::StrAppend(&out, "untouched rows not equal to the mapping of their backup value: ", wrong,
                    "\n");
    for (const std::string& e : wrong_examples) absl::StrAppend(&out, "  ", e, "\n");
    for (const std::string& m : mapping) absl::StrAppend(&out, "  ", m, "\n");
  }
  return out;
}

}  // namespace booking::migrator
