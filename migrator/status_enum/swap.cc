#include "migrator/status_enum/swap.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/index_build.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/progress.h"
#include "migrator/status_enum/retire.h"
#include "migrator/status_enum/swap_internal.h"

namespace booking::migrator {
namespace {

constexpr int64_t kPagesPerBatch = 8;

std::string MapToTarget(Tx& tx, const std::string& expr, DefinitionMode mode) {
  const QuoteFn q = [&](const std::string& v) { return tx.Quote(v); };
  return mode == DefinitionMode::kNarrow ? ForwardCaseSql(expr, q) : ReverseCaseSql(expr, q);
}

absl::Status MakeNextType(PhaseContext& ctx, const StatusPlan& current,
                          const std::vector<std::string>& labels) {
  std::vector<std::string> existing;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    for (const pqxx::row& r :
         tx.Params("SELECT enumlabel::text AS label FROM pg_enum WHERE enumtypid = to_regtype($1) "
                   "ORDER BY enumsortorder",
                   ctx.store.next_type)) {
      existing.push_back(r["label"].as<std::string>());
    }
  });
  if (!read.ok()) return read;
  if (existing == labels) return absl::OkStatus();
  if (!existing.empty()) {  // left by a swap to other labels
    if (absl::Status s = DropSwapDebris(ctx, current); !s.ok()) return s;
  }
  return ctx.db.Transaction("new type", ctx.TableLocks(), [&](Tx& tx) {
    std::vector<std::string> quoted;
    for (const std::string& l : labels) quoted.push_back(tx.Quote(l));
    tx.Ddl(absl::StrCat("CREATE TYPE ", ctx.store.next_type, " AS ENUM (",
                        absl::StrJoin(quoted, ", "), ")"));
  });
}

// CHECK (shadow IS NOT NULL) NOT VALID, unless there: it holds for every
// row written from now on (the sync trigger fills the shadow), and once
// validated lets SET NOT NULL skip its scan under the swap's lock.
void AddNotNullCheck(Tx& tx, const PlanObject& o) {
  const std::string check = NotNullCheck(o.column());
  if (!tx.Params("SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                 o.table(), check)
           .empty()) {
    return;
  }
  tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ADD CONSTRAINT ", tx.Name(check), " CHECK (",
                      o.shadow_column(), " IS NOT NULL) NOT VALID"));
}

absl::Status AddShadows(PhaseContext& ctx, const SwapPlan& plan, DefinitionMode mode) {
  for (const Rewritten& c : plan.columns) {
    const PlanObject& o = *c.object;
    absl::Status s = ctx.db.Transaction("shadow column " + o.name(), ctx.TableLocks(), [&](Tx& tx) {
      const SyncNames names = SyncNamesOf(tx, o, ctx.store);
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ADD COLUMN IF NOT EXISTS ",
                          o.shadow_column(), " ", ctx.store.next_type));
      tx.Ddl(absl::StrCat("CREATE OR REPLACE FUNCTION ", names.function,
                          "() RETURNS trigger LANGUAGE plpgsql AS $sync$ BEGIN NEW.",
                          o.shadow_column(), " := (",
                          MapToTarget(tx, absl::StrCat("NEW.", o.printed_column(), "::text"), mode),
                          ")::", ctx.store.next_type, "; RETURN NEW; END $sync$"));
      tx.Ddl(absl::StrCat("CREATE OR REPLACE TRIGGER ", names.trigger,
                          " BEFORE INSERT OR UPDATE ON ", o.table(),
                          " FOR EACH ROW EXECUTE FUNCTION ", names.function, "()"));
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ENABLE ALWAYS TRIGGER ", names.trigger));
      // NOT NULL's check now, while this transaction holds the table's lock
      // anyway: added after the copy it needed that lock again, and waited
      // behind the autovacuum the copy sets off (with writers queued behind).
      if (o.not_null()) AddNotNullCheck(tx, o);
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// TID ranges of every leaf table: each page visited once, each batch short.
absl::Status CopyLeaf(PhaseContext& ctx, const PlanObject& o, const std::string& leaf,
                      DefinitionMode mode) {
  std::string sql;
  int64_t pages = 0;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    const std::string value = absl::StrCat(
        "(", MapToTarget(tx, o.printed_column() + "::text", mode), ")::", ctx.store.next_type);
    sql = absl::StrCat("UPDATE ", leaf, " SET ", o.shadow_column(), " = ", value,
                       " WHERE ctid >= format('(%s,0)', $1::bigint)::tid"
                       " AND ctid < format('(%s,0)', $2::bigint)::tid AND ",
                       o.shadow_column(), " IS DISTINCT FROM ", value);
    pages = RelationPages(tx, leaf);
  });
  if (!read.ok()) return read;
  Progress progress(ctx.progress, absl::StrCat("copy ", leaf, ".", o.printed_column()), pages,
                    ctx.options.progress_bar, "pages");
  for (int64_t page = 0; page < pages; page += kPagesPerBatch) {
    absl::Status s = ctx.db.Transaction("copy " + o.name(), ctx.RowLocks(), [&](Tx& tx) {
      tx.Params(sql, page, page + kPagesPerBatch);
    });
    if (!s.ok()) return s;
    progress.Add(std::min(kPagesPerBatch, pages - page));
    if (ctx.options.throttle > absl::ZeroDuration()) absl::SleepFor(ctx.options.throttle);
  }
  progress.Finish();
  return absl::OkStatus();
}

// NOT NULL without a scan under an exclusive lock: a validated CHECK
// (validation takes no lock writers wait for) lets SET NOT NULL skip it.
absl::Status ValidateNotNull(PhaseContext& ctx, const PlanObject& o) {
  const std::string check = NotNullCheck(o.column());
  // Added with the shadow column; here only for a shadow an older migrator
  // added without it.
  absl::Status s = ctx.db.Transaction("not-null check", ctx.TableLocks(),
                                      [&](Tx& tx) { AddNotNullCheck(tx, o); });
  if (!s.ok()) return s;
  return ctx.db.Transaction("validate not-null check", ctx.RowLocks(), [&](Tx& tx) {
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " VALIDATE CONSTRAINT ", tx.Name(check)));
  });
}

absl::Status BuildShadowCheck(PhaseContext& ctx, const Rewritten& c) {
  const PlanObject& o = *c.object;
  const std::string next = NextName(o.raw_name());
  absl::Status s = ctx.db.Transaction("check on the new column", ctx.TableLocks(), [&](Tx& tx) {
    if (!tx.Params("SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                   o.table(), next)
             .empty()) {
      return;
    }
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ADD CONSTRAINT ", tx.Name(next), " ", c.main,
                        " NOT VALID"));
  });
  if (!s.ok() || o.enabled() != "valid") return s;
  return ctx.db.Transaction("validate check on the new column", ctx.RowLocks(), [&](Tx& tx) {
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " VALIDATE CONSTRAINT ", tx.Name(next)));
  });
}

absl::Status Prepare(PhaseContext& ctx, const StatusPlan& current, const SwapPlan& plan,
                     const SwapTarget& target) {
  if (absl::Status s = MakeNextType(ctx, current, target.labels); !s.ok()) return s;
  if (absl::Status s = AddShadows(ctx, plan, target.mode); !s.ok()) return s;
  for (const Rewritten& c : plan.columns) {
    for (const std::string& leaf : c.object->leaves()) {
      if (absl::Status s = CopyLeaf(ctx, *c.object, leaf, target.mode); !s.ok()) return s;
    }
    if (c.object->not_null()) {
      if (absl::Status s = ValidateNotNull(ctx, *c.object); !s.ok()) return s;
    }
  }
  for (const Rewritten& c : plan.checks) {
    if (absl::Status s = BuildShadowCheck(ctx, c); !s.ok()) return s;
  }
  for (const Rewritten& i : plan.indexes) {
    absl::Status s = BuildIndex(ctx, *i.object, NextName(i.object->raw_name()), i.main, "__next");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SwapType(PhaseContext& ctx, const StatusPlan& current, const StatusPlan& recorded,
                      const SwapTarget& target) {
  absl::StatusOr<SwapPlan> plan = PlanSwap(ctx, current, recorded, target.mode);
  if (!plan.ok()) return plan.status();
  ctx.out << "swap: new type with [" << absl::StrJoin(target.labels, ", ") << "]; "
          << plan->columns.size() << " column(s), " << plan->indexes.size() << " index(es), "
          << plan->checks.size() << " check(s), " << plan->views.size() << " view(s), "
          << plan->triggers.size() + plan->policies.size() + plan->rules.size()
          << " trigger(s)/policy(ies)/rule(s) carried\n";
  for (const Rewritten& i : plan->indexes)
    ctx.out << "  index " << i.object->name() << ": " << i.main << "\n";
  for (const Rewritten& v : plan->views)
    ctx.out << "  view " << v.object->name() << ":" << v.main << "\n";
  if (ctx.options.dry_run) return absl::OkStatus();
  if (absl::Status s = Prepare(ctx, current, *plan, target); !s.ok()) return s;
  if (target.retire_indexes_first) {
    std::vector<const PlanObject*> indexes;
    for (const Rewritten& i : plan->indexes) indexes.push_back(i.object);
    const absl::StatusOr<std::vector<std::string>> retired = RetireOldIndexes(ctx, indexes);
    if (!retired.ok()) return retired.status();
    if (!retired->empty()) {
      ctx.out << "swap: dropped " << absl::StrJoin(*retired, ", ")
              << " concurrently (replacements built; the swap renames them)\n";
    }
  }
  absl::Time locked;
  absl::Status s = ctx.db.Transaction("swap", ctx.TableLocks(), [&](Tx& tx) {
    for (const std::string& t : plan->tables) {
      tx.Ddl(absl::StrCat("LOCK TABLE ", t, " IN ACCESS EXCLUSIVE MODE"));
    }
    locked = absl::Now();
    tx.BatchDdl();
    SwapInTransaction(tx, ctx, *plan, target);
  });
  if (!s.ok()) return s;
  ctx.out << "swap: held ACCESS EXCLUSIVE on " << absl::StrJoin(plan->tables, ", ") << " for "
          << absl::ToDoubleMilliseconds(absl::Now() - locked) << " ms\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
