#include "migrator/status_enum/carry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/index_build.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/objects_sql.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/translate.h"

namespace booking::migrator {
namespace {

RewriteContext ContextOf(const PlanObject& o, const StatusPlan& plan) {
  return ContextFor(plan, o.kind() == "view" ? "" : o.table(), "");
}

std::set<std::string> Named(const std::string& sql, const RewriteContext& ctx) {
  Translation how{DefinitionMode::kWiden, ctx.type, "", ctx.columns, {}};
  std::vector<std::string> labels = LabelsNamed(sql, how);
  return {labels.begin(), labels.end()};
}

// The text of `o` that names labels: an index's part after USING, else its
// definition.
std::string MainText(const PlanObject& o) {
  return o.kind() == "index" ? SplitIndexDefinition(o.definition()).second : o.definition();
}

absl::StatusOr<std::string> Widen(const std::string& sql, const RewriteContext& ctx) {
  if (sql.empty()) return sql;
  return Rewrite(sql, ctx, DefinitionMode::kWiden, false);
}

absl::Status WidenView(PhaseContext& ctx, const PlanObject& o, const std::string& query) {
  return ctx.db.Transaction("widen view", ctx.TableLocks(),
                            [&](Tx& tx) { tx.Ddl(ViewSql(o, query, true)); });
}

absl::Status WidenTriggerOrRule(PhaseContext& ctx, const PlanObject& o, const std::string& def) {
  const std::string what = o.kind() == "trigger" ? "TRIGGER" : "RULE";
  return ctx.db.Transaction("widen " + o.kind(), ctx.TableLocks(), [&](Tx& tx) {
    tx.Ddl(OrReplace(def));
    if (const std::string s = FiringStateSql(tx, what, o); !s.empty()) tx.Ddl(s);
  });
}

absl::Status WidenPolicy(PhaseContext& ctx, const PlanObject& o, const std::string& qual,
                         const std::string& check) {
  return ctx.db.Transaction("widen policy", ctx.TableLocks(), [&](Tx& tx) {
    tx.Ddl(absl::StrCat("DROP POLICY IF EXISTS ", tx.Name(o.raw_name()), " ON ", o.table()));
    tx.Ddl(CreatePolicySql(tx, o, qual, check));
    for (const std::string& r : o.restore()) tx.Ddl(r);
  });
}

// Added NOT VALID (a short lock), validated (no lock writers wait for),
// then put in the original's place in one short transaction.
absl::Status WidenCheck(PhaseContext& ctx, const PlanObject& o, const std::string& def) {
  const std::string wide = WideName(o.raw_name());
  const absl::StatusOr<bool> exists = ctx.db.Read<bool>([&](Tx& tx) {
    return !tx.Params("SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                      o.table(), wide)
                .empty();
  });
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    absl::Status s = ctx.db.Transaction("add widened check", ctx.TableLocks(), [&](Tx& tx) {
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ADD CONSTRAINT ", tx.Name(wide), " ",
                          CheckBody(def), " NOT VALID"));
    });
    if (!s.ok()) return s;
  }
  if (o.enabled() == "valid") {
    absl::Status s = ctx.db.Transaction("validate widened check", ctx.RowLocks(), [&](Tx& tx) {
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " VALIDATE CONSTRAINT ", tx.Name(wide)));
    });
    if (!s.ok()) return s;
  }
  return ctx.db.Transaction("replace check", ctx.TableLocks(), [&](Tx& tx) {
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " DROP CONSTRAINT IF EXISTS ",
                        tx.Name(o.raw_name())));
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " RENAME CONSTRAINT ", tx.Name(wide), " TO ",
                        tx.Name(o.raw_name())));
    for (const std::string& r : o.restore()) tx.Ddl(r);
  });
}

absl::Status WidenIndex(PhaseContext& ctx, const PlanObject& o, const std::string& tail) {
  const std::string wide = WideName(o.raw_name());
  if (absl::Status s = BuildIndex(ctx, o, wide, tail, "__wide"); !s.ok()) return s;
  if (absl::Status s = DropIndexIfExists(ctx, o, o.raw_name()); !s.ok()) return s;
  return ctx.db.Transaction("rename widened index", ctx.TableLocks(),
                            [&](Tx& tx) { RenameBuiltIndex(tx, o, wide, "__wide"); });
}

absl::Status WidenOne(PhaseContext& ctx, const PlanObject& now, const PlanObject& source,
                      const RewriteContext& rc) {
  absl::StatusOr<std::string> main = Widen(MainText(source), rc);
  if (!main.ok()) return main.status();
  if (Named(MainText(now), rc) == Named(*main, rc) && now.kind() != "policy") {
    return absl::OkStatus();  // widened already
  }
  const std::string& k = now.kind();
  if (k == "view") return WidenView(ctx, now, *main);
  if (k == "trigger" || k == "rule") return WidenTriggerOrRule(ctx, now, *main);
  if (k == "check") return WidenCheck(ctx, now, *main);
  if (k == "index") return WidenIndex(ctx, now, *main);
  absl::StatusOr<std::string> check = Widen(source.policy_check(), rc);
  if (!check.ok()) return check.status();
  if (Named(now.definition(), rc) == Named(*main, rc) &&
      Named(now.policy_check(), rc) == Named(*check, rc)) {
    return absl::OkStatus();
  }
  return WidenPolicy(ctx, now, *main, *check);
}

}  // namespace

const PlanObject* Find(const StatusPlan& plan, const PlanObject& o) {
  for (const PlanObject& p : plan.objects()) {
    if (p.kind() == o.kind() && p.name() == o.name()) return &p;
  }
  return nullptr;
}

const PlanObject& Source(const PlanObject& current, const StatusPlan& recorded) {
  const PlanObject* original = Find(recorded, current);
  if (original == nullptr) return current;
  // Still as the migrator left it in some phase: it names the original's
  // labels, or their widened or narrowed sets.
  const RewriteContext rc = ContextOf(*original, recorded);
  const std::set<std::string> now = Named(MainText(current), rc);
  for (DefinitionMode mode : {DefinitionMode::kWiden, DefinitionMode::kNarrow}) {
    absl::StatusOr<std::string> t = Rewrite(MainText(*original), rc, mode, false);
    if (t.ok() && Named(*t, rc) == now) return *original;
  }
  return Named(MainText(*original), rc) == now ? *original : current;
}

absl::Status WidenInPlace(PhaseContext& ctx, const StatusPlan& current,
                          const StatusPlan& recorded) {
  for (const PlanObject& o : current.objects()) {
    if (o.kind() == "column" || !o.refusal().empty()) continue;
    const PlanObject& source = Source(o, recorded);
    if (source.labels_size() == 0 && o.labels_size() == 0) continue;
    const RewriteContext rc = ContextOf(o, current);
    if (absl::Status s = WidenOne(ctx, o, source, rc); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FinishWideRenames(PhaseContext& ctx, const StatusPlan& recorded) {
  for (const PlanObject& o : recorded.objects()) {
    if (o.kind() != "index" && o.kind() != "check") continue;
    const std::string wide = WideName(o.raw_name());
    absl::Status s = ctx.db.Transaction("finish widening", ctx.TableLocks(), [&](Tx& tx) {
      if (o.kind() == "index") {
        if (!IndexExists(tx, o, o.raw_name()) && IndexExists(tx, o, wide)) {
          RenameBuiltIndex(tx, o, wide, "__wide");
        }
        return;
      }
      const std::string q =
          "SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2";
      if (tx.Params(q, o.table(), o.raw_name()).empty() && !tx.Params(q, o.table(), wide).empty()) {
        tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " RENAME CONSTRAINT ", tx.Name(wide), " TO ",
                            tx.Name(o.raw_name())));
      }
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DropWideLeftovers(PhaseContext& ctx, const StatusPlan& recorded) {
  for (const PlanObject& o : recorded.objects()) {
    if (o.kind() == "index") {
      if (absl::Status s = DropIndexIfExists(ctx, o, WideName(o.raw_name())); !s.ok()) return s;
    }
    if (o.kind() != "check") continue;
    absl::Status s = ctx.db.Transaction("drop widened check", ctx.TableLocks(), [&](Tx& tx) {
      if (tx.Params("SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                    o.table(), WideName(o.raw_name()))
              .empty()) {
        return;
      }
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " DROP CONSTRAINT ",
                          tx.Name(WideName(o.raw_name()))));
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void SetDefault(Tx& tx, const PlanObject& column, const std::string& expr) {
  tx.Ddl(absl::StrCat("ALTER TABLE ", column.table(), " ALTER COLUMN ", column.printed_column(),
                      expr.empty() ? " DROP DEFAULT" : absl::StrCat(" SET DEFAULT ", expr)));
}

}  // namespace booking::migrator
