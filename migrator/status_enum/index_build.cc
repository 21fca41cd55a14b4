#include "migrator/status_enum/index_build.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/names.h"

namespace booking::migrator {
namespace {

std::pair<std::string, std::string> SplitChild(const std::string& child) {
  std::vector<std::string> parts = absl::StrSplit(child, absl::MaxSplits('|', 1));
  return {parts[0], parts.size() > 1 ? parts[1] : ""};
}

// -1 missing, 0 invalid, 1 valid.
absl::StatusOr<int> IndexState(PhaseContext& ctx, const std::string& qualified) {
  return ctx.db.Read<int>([&](Tx& tx) {
    pqxx::result r = tx.Params(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)", qualified);
    if (r.empty()) return -1;
    return r[0]["valid"].as<bool>() ? 1 : 0;
  });
}

// One plain (non-partitioned) table's index, concurrently.
// `qualified` finds it; `name` (unqualified: an index lives in its table's
// schema) creates it.
absl::Status BuildPlain(PhaseContext& ctx, const std::string& table, bool unique,
                        const std::string& qualified, const std::string& name,
                        const std::string& tail) {
  const absl::StatusOr<int> state = IndexState(ctx, qualified);
  if (!state.ok()) return state.status();
  if (*state == 1) return absl::OkStatus();
  if (*state == 0) {
    absl::Status s = ctx.db.Autocommit("drop invalid index", ctx.TableLocks(),
                                       "DROP INDEX CONCURRENTLY IF EXISTS " + qualified);
    if (!s.ok()) return s;
  }
  const std::string sql = absl::StrCat("CREATE ", unique ? "UNIQUE " : "", "INDEX CONCURRENTLY ",
                                       name, " ON ", table, " ", tail);
  absl::Status built = ctx.db.Autocommit("build index " + qualified, ctx.LongWaits(), sql);
  if (!built.ok()) {
    // A failed concurrent build leaves an invalid index: take it away so
    // the store holds nothing half-made, then report the failure (the
    // build's: a failed drop leaves an invalid index the next run drops).
    (void)ctx.db.Autocommit("drop failed index", ctx.TableLocks(),
                            "DROP INDEX CONCURRENTLY IF EXISTS " + qualified);
  }
  return built;
}

}  // namespace

std::string Sibling(Tx& tx, const std::string& table, const std::string& raw) {
  return tx
      .Params(
          "SELECT format('%I.%I', n.nspname, $2::text) AS sibling FROM pg_class c "
          "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass",
          table, raw)[0]["sibling"]
      .as<std::string>();
}

bool IndexExists(Tx& tx, const PlanObject& o, const std::string& raw_name) {
  return !tx.Params("SELECT 1 FROM pg_class WHERE oid = to_regclass($1)",
                    Sibling(tx, o.table(), raw_name))
              .empty();
}

absl::Status BuildIndex(PhaseContext& ctx, const PlanObject& o, const std::string& raw_name,
                        const std::string& tail, const std::string& child_suffix) {
  const std::string name = ctx.db.Name(raw_name);
  const absl::StatusOr<std::string> sibling =
      ctx.db.Read<std::string>([&](Tx& tx) { return Sibling(tx, o.table(), raw_name); });
  if (!sibling.ok()) return sibling.status();
  const std::string& qualified = *sibling;
  if (!o.partitioned()) return BuildPlain(ctx, o.table(), o.unique(), qualified, name, tail);
  const absl::StatusOr<int> state = IndexState(ctx, qualified);
  if (!state.ok()) return state.status();
  if (*state < 0) {
    absl::Status s =
        ctx.db.Transaction("index on partitioned table", ctx.TableLocks(), [&](Tx& tx) {
          tx.Ddl(absl::StrCat("CREATE ", o.unique() ? "UNIQUE " : "", "INDEX IF NOT EXISTS ",
                              tx.Name(raw_name), " ON ONLY ", o.table(), " ", tail));
        });
    if (!s.ok()) return s;
  }
  for (const std::string& c : o.children()) {
    const auto [table, child_raw] = SplitChild(c);
    const std::string child_name = Suffixed(child_raw, child_suffix);
    const absl::StatusOr<std::string> child =
        ctx.db.Read<std::string>([&](Tx& tx) { return Sibling(tx, table, child_name); });
    if (!child.ok()) return child.status();
    absl::Status built = BuildPlain(ctx, table, o.unique(), *child, ctx.db.Name(child_name), tail);
    if (!built.ok()) return built;
    absl::Status s = ctx.db.Transaction("attach index", ctx.TableLocks(), [&](Tx& tx) {
      const bool attached = !tx.Params(
                                   "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) "
                                   "AND inhparent = to_regclass($2)",
                                   *child, qualified)
                                 .empty();
      if (!attached) tx.Ddl(absl::StrCat("ALTER INDEX ", qualified, " ATTACH PARTITION ", *child));
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DropIndexIfExists(PhaseContext& ctx, const PlanObject& o,
                               const std::string& raw_name) {
  std::string qualified;
  bool exists = false;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    qualified = Sibling(tx, o.table(), raw_name);
    exists = IndexExists(tx, o, raw_name);
  });
  if (!read.ok()) return read;
  if (!exists) return absl::OkStatus();
  if (!o.partitioned()) {
    return ctx.db.Autocommit("drop index", ctx.TableLocks(),
                             "DROP INDEX CONCURRENTLY IF EXISTS " + qualified);
  }
  // A partitioned index cannot be dropped concurrently: a short catalog change.
  return ctx.db.Transaction("drop index", ctx.TableLocks(),
                            [&](Tx& tx) { tx.Ddl("DROP INDEX IF EXISTS " + qualified); });
}

void RenameBuiltIndex(Tx& tx, const PlanObject& o, const std::string& from_raw,
                      const std::string& child_suffix) {
  tx.Ddl(absl::StrCat("ALTER INDEX ", Sibling(tx, o.table(), from_raw), " RENAME TO ",
                      tx.Name(o.raw_name())));
  for (const std::string& c : o.children()) {
    const auto [table, child_raw] = SplitChild(c);
    const std::string built = Sibling(tx, table, Suffixed(child_raw, child_suffix));
    if (tx.Params("SELECT 1 FROM pg_class WHERE oid = to_regclass($1)", built).empty()) continue;
    tx.Ddl(absl::StrCat("ALTER INDEX ", built, " RENAME TO ", tx.Name(child_raw)));
  }
  for (const std::string& r : o.restore()) tx.Ddl(r);
}

}  // namespace booking::migrator
