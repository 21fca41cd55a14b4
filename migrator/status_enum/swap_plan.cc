#include <algorithm>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/capture.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/index_build.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/objects_sql.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/retire.h"
#include "migrator/status_enum/swap_internal.h"

namespace booking::migrator {
namespace {

absl::StatusOr<Rewritten> RewriteFor(const PlanObject& o, const PlanObject& source,
                                     const RewriteContext& rc, DefinitionMode mode) {
  Rewritten r{&o, "", ""};
  const std::string& k = o.kind();
  absl::StatusOr<std::string> main = std::string();
  if (k == "column") {
    if (!source.definition().empty()) main = Rewrite(source.definition(), rc, mode, false);
  } else if (k == "index") {
    main = Rewrite(SplitIndexDefinition(source.definition()).second, rc, mode, true);
  } else if (k == "check") {
    main = Rewrite(CheckBody(source.definition()), rc, mode, true);
  } else {
    if (!source.definition().empty()) main = Rewrite(source.definition(), rc, mode, false);
    if (k == "policy" && !source.policy_check().empty()) {
      absl::StatusOr<std::string> check = Rewrite(source.policy_check(), rc, mode, false);
      if (!check.ok()) return check.status();
      r.check = *check;
    }
  }
  if (!main.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(k, " ", o.name(), ": ", main.status().message()));
  }
  r.main = *main;
  return r;
}

std::vector<Rewritten>* ListFor(SwapPlan& plan, const std::string& kind) {
  if (kind == "column") return &plan.columns;
  if (kind == "index") return &plan.indexes;
  if (kind == "check") return &plan.checks;
  if (kind == "view") return &plan.views;
  if (kind == "trigger") return &plan.triggers;
  if (kind == "policy") return &plan.policies;
  if (kind == "rule") return &plan.rules;
  return nullptr;
}

void DropDependents(Tx& tx, PhaseContext& ctx, const SwapPlan& plan) {
  for (auto it = plan.views.rbegin(); it != plan.views.rend(); ++it) {
    tx.Ddl(absl::StrCat("DROP VIEW IF EXISTS ", it->object->name()));
  }
  for (const Rewritten& t : plan.triggers) {
    tx.Ddl(absl::StrCat("DROP TRIGGER IF EXISTS ", tx.Name(t.object->raw_name()), " ON ",
                        t.object->table()));
  }
  for (const Rewritten& p : plan.policies) {
    tx.Ddl(absl::StrCat("DROP POLICY IF EXISTS ", tx.Name(p.object->raw_name()), " ON ",
                        p.object->table()));
  }
  for (const Rewritten& r : plan.rules) {
    tx.Ddl(absl::StrCat("DROP RULE IF EXISTS ", tx.Name(r.object->raw_name()), " ON ",
                        r.object->table()));
  }
  RemoveCapture(tx, ctx.store);
}

void DropSyncTrigger(Tx& tx, const PlanObject& o, const StoreInfo& store) {
  const SyncNames names = SyncNamesOf(tx, o, store);
  tx.Ddl(absl::StrCat("DROP TRIGGER IF EXISTS ", names.trigger, " ON ", o.table()));
  tx.Ddl(absl::StrCat("DROP FUNCTION IF EXISTS ", names.function, "()"));
}

// An index built on a shadow column keeps the shadow's name for its column
// (CREATE INDEX copies it; renaming the table's column does not follow):
// the column's own name back, in every partition's index too. Renaming a
// partitioned index's column renames its partitions' (it recurses), so the
// catalog is asked again after each rename; parents first.
void RenameIndexColumns(Tx& tx, const PlanObject& o) {
  const std::string shadow = ShadowColumn(o.column());
  const std::string next = R"(
      SELECT i.indexrelid::regclass::text AS index_name
      FROM (SELECT $1::regclass AS relid  -- the tree has no row for a plain table
            UNION SELECT relid FROM pg_partition_tree($1::regclass)) t
      JOIN pg_index i ON i.indrelid = t.relid
      JOIN pg_attribute a ON a.attrelid = i.indexrelid AND a.attname = $2
      ORDER BY EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = i.indexrelid), 1
      LIMIT 1)";
  for (pqxx::result r = tx.Params(next, o.table(), shadow); !r.empty();
       r = tx.Params(next, o.table(), shadow)) {
    tx.Ddl(absl::StrCat("ALTER TABLE ", r[0]["index_name"].c_str(), " RENAME COLUMN ",
                        tx.Name(shadow), " TO ", tx.Name(o.column())));
  }
}

void SwapColumns(Tx& tx, const SwapPlan& plan, const StoreInfo& store) {
  for (const Rewritten& c : plan.columns) {
    const PlanObject& o = *c.object;
    DropSyncTrigger(tx, o, store);
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " DROP COLUMN ", o.printed_column()));
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " RENAME COLUMN ", o.shadow_column(), " TO ",
                        o.printed_column()));
    if (o.not_null()) {
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " ALTER COLUMN ", o.printed_column(),
                          " SET NOT NULL"));
      tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " DROP CONSTRAINT ",
                          tx.Name(NotNullCheck(o.column()))));
    }
    for (const std::string& r : o.restore()) tx.Ddl(r);
  }
  for (const Rewritten& i : plan.indexes) {
    tx.Ddl("DROP INDEX IF EXISTS " + Sibling(tx, i.object->table(), i.object->raw_name()));
    RenameBuiltIndex(tx, *i.object, NextName(i.object->raw_name()), "__next");
  }
  for (const Rewritten& c : plan.columns) RenameIndexColumns(tx, *c.object);
  for (const Rewritten& c : plan.checks) {
    const PlanObject& o = *c.object;
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " DROP CONSTRAINT IF EXISTS ",
                        tx.Name(o.raw_name())));
    tx.Ddl(absl::StrCat("ALTER TABLE ", o.table(), " RENAME CONSTRAINT ",
                        tx.Name(NextName(o.raw_name())), " TO ", tx.Name(o.raw_name())));
    for (const std::string& r : o.restore()) tx.Ddl(r);
  }
}

void Recreate(Tx& tx, const SwapPlan& plan) {
  for (const Rewritten& v : plan.views) {
    tx.Ddl(ViewSql(*v.object, v.main, false));
    for (const std::string& r : v.object->restore()) tx.Ddl(r);
  }
  for (const Rewritten& t : plan.triggers) {
    tx.Ddl(t.main);
    if (const std::string s = FiringStateSql(tx, "TRIGGER", *t.object); !s.empty()) tx.Ddl(s);
    for (const std::string& r : t.object->restore()) tx.Ddl(r);
  }
  for (const Rewritten& p : plan.policies) {
    tx.Ddl(CreatePolicySql(tx, *p.object, p.main, p.check));
    for (const std::string& r : p.object->restore()) tx.Ddl(r);
  }
  for (const Rewritten& r : plan.rules) {
    tx.Ddl(r.main);
    if (const std::string s = FiringStateSql(tx, "RULE", *r.object); !s.empty()) tx.Ddl(s);
    for (const std::string& x : r.object->restore()) tx.Ddl(x);
  }
}

// The type's owner, privileges and comment, as statements naming it (they
// run once the new type has its name).
absl::StatusOr<std::vector<std::string>> TypeExtras(PhaseContext& ctx) {
  std::vector<std::string> out;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    const pqxx::row t = tx.Params(
        R"(SELECT pg_get_userbyid(typowner) AS owner, typacl IS NOT NULL AS explicit_acl,
                  obj_description(oid, 'pg_type') AS comment
           FROM pg_type WHERE oid = $1)",
        ctx.store.type_oid)[0];
    const std::string& type = ctx.store.type;
    const std::string owner = t["owner"].as<std::string>();
    out.push_back(absl::StrCat("ALTER TYPE ", type, " OWNER TO ", tx.Name(owner)));
    if (t["explicit_acl"].as<bool>()) {  // explicit privileges: exactly these
      out.push_back(absl::StrCat("REVOKE ALL ON TYPE ", type, " FROM PUBLIC"));
      out.push_back(absl::StrCat("REVOKE ALL ON TYPE ", type, " FROM ", tx.Name(owner)));
      for (const pqxx::row& g : tx.Params(
               R"(SELECT x.privilege_type AS privilege,
                         CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                              ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS grantee,
                         x.is_grantable AS grantable
                  FROM pg_type t, aclexplode(t.typacl) x WHERE t.oid = $1)",
               ctx.store.type_oid)) {
        out.push_back(absl::StrCat("GRANT ", g["privilege"].c_str(), " ON TYPE ", type, " TO ",
                                   g["grantee"].c_str(),
                                   g["grantable"].as<bool>() ? " WITH GRANT OPTION" : ""));
      }
    }
    if (!t["comment"].is_null()) {
      out.push_back(
          absl::StrCat("COMMENT ON TYPE ", type, " IS ", tx.Quote(t["comment"].as<std::string>())));
    }
  });
  if (!read.ok()) return read;
  return out;
}

}  // namespace

SyncNames SyncNamesOf(Tx& tx, const PlanObject& o, const StoreInfo& store) {
  const pqxx::row r = tx.Params(
      "SELECT c.relname::text AS table_name, n.nspname::text AS schema_name FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass",
      o.table())[0];
  const std::string table = r["table_name"].as<std::string>();
  const std::string schema = r["schema_name"].as<std::string>();
  return {tx.Name(SyncTrigger(table, o.column())),
          absl::StrCat(tx.Name(store.schema), ".",
                       tx.Name(SyncFunction(schema, store.schema, table, o.column())))};
}

absl::StatusOr<SwapPlan> PlanSwap(PhaseContext& ctx, const StatusPlan& current,
                                  const StatusPlan& recorded, DefinitionMode mode) {
  SwapPlan plan;
  for (const PlanObject& o : current.objects()) {
    if (!o.refusal().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(o.kind(), " ", o.name(),
                                                        " cannot be carried: ", o.refusal(),
                                                        ". What to do: ", o.remedy()));
    }
    if (o.kind() == "plpgsql function") {
      plan.recompile.push_back(o.recompile());
      continue;
    }
    std::vector<Rewritten>* list = ListFor(plan, o.kind());
    if (list == nullptr) continue;  // left to the operator (--assume-handled)
    const RewriteContext rc =
        ContextFor(current, o.kind() == "view" ? "" : o.table(), ctx.store.next_type);
    absl::StatusOr<Rewritten> r = RewriteFor(o, Source(o, recorded), rc, mode);
    if (!r.ok()) return r.status();
    list->push_back(*r);
    if (!o.table().empty() &&
        std::find(plan.tables.begin(), plan.tables.end(), o.table()) == plan.tables.end()) {
      plan.tables.push_back(o.table());
    }
  }
  // Indexes an interrupted contract retired before its swap: swapped in
  // from their recorded definition.
  const absl::StatusOr<std::vector<const PlanObject*>> retired = RetiredIndexes(ctx, recorded);
  if (!retired.ok()) return retired.status();
  for (const PlanObject* o : *retired) {
    if (Find(current, *o) != nullptr) continue;
    const RewriteContext rc = ContextFor(current, o->table(), ctx.store.next_type);
    absl::StatusOr<Rewritten> r = RewriteFor(*o, *o, rc, mode);
    if (!r.ok()) return r.status();
    plan.indexes.push_back(*r);
    if (std::find(plan.tables.begin(), plan.tables.end(), o->table()) == plan.tables.end()) {
      plan.tables.push_back(o->table());
    }
  }
  std::sort(plan.tables.begin(), plan.tables.end());
  absl::StatusOr<std::vector<std::string>> extras = TypeExtras(ctx);
  if (!extras.ok()) return extras.status();
  plan.type_restore = *std::move(extras);
  return plan;
}

void SwapInTransaction(Tx& tx, PhaseContext& ctx, const SwapPlan& plan, const SwapTarget& target) {
  DropDependents(tx, ctx, plan);
  SwapColumns(tx, plan, ctx.store);
  tx.Ddl(absl::StrCat("DROP TYPE ", ctx.store.type));
  tx.Ddl(absl::StrCat("ALTER TYPE ", ctx.store.next_type, " RENAME TO ",
                      tx.Name(ctx.store.type_name)));
  for (const std::string& r : plan.type_restore) tx.Ddl(r);
  for (const Rewritten& c : plan.columns) {  // defaults name the type: after its rename
    if (!c.main.empty()) SetDefault(tx, *c.object, c.main);
  }
  Recreate(tx, plan);
  for (const std::string& r : plan.recompile) tx.Ddl(r);
  if (target.finish) target.finish(tx);
}

absl::Status DropSwapDebris(PhaseContext& ctx, const StatusPlan& current) {
  return ctx.db.Transaction("drop swap leftovers", ctx.TableLocks(), [&](Tx& tx) {
    for (const PlanObject* c : ObjectsOfKind(current, "column")) {
      DropSyncTrigger(tx, *c, ctx.store);
      tx.Ddl(
          absl::StrCat("ALTER TABLE ", c->table(), " DROP COLUMN IF EXISTS ", c->shadow_column()));
    }
    for (const PlanObject* i : ObjectsOfKind(current, "index")) {
      tx.Ddl("DROP INDEX IF EXISTS " + Sibling(tx, i->table(), NextName(i->raw_name())));
    }
    for (const PlanObject* k : ObjectsOfKind(current, "check")) {
      tx.Ddl(absl::StrCat("ALTER TABLE ", k->table(), " DROP CONSTRAINT IF EXISTS ",
                          tx.Name(NextName(k->raw_name()))));
    }
    tx.Ddl(absl::StrCat("DROP TYPE IF EXISTS ", ctx.store.next_type));
  });
}

absl::StatusOr<bool> SwapDebrisExists(PhaseContext& ctx) {
  return ctx.db.Read<bool>([&](Tx& tx) {
    return !tx.Params("SELECT to_regtype($1) AS type", ctx.store.next_type)[0]["type"].is_null();
  });
}

}  // namespace booking::migrator
