#include "migrator/status_enum/inventory.h"

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory_sql.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/names.h"

namespace booking::migrator {

namespace {

// What the batches and the backup rely on: a unique id (keyset order), the
// version `up` adds, and Prisma's "updatedAt".
absl::Status CheckStoreShape(Tx& tx, uint32_t table_oid) {
  pqxx::result shape = tx.Params(
      R"(SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                        ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                        WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts = 1
                          AND i.indpred IS NULL AND a.attname = 'id') AS id_unique,
                to_regclass('"StatusMigration"') IS NOT NULL AND EXISTS (
                  SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = 'version'
                    AND NOT attisdropped) AS has_up,
                EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = 'updatedAt'
                          AND NOT attisdropped) AS has_updated_at)",
      table_oid);
  const pqxx::row row = shape.front();
  if (!row["id_unique"].as<bool>()) {
    return absl::FailedPreconditionError(
        "\"Booking\".id is not unique (no primary key or unique index on it alone): the "
        "migrator's batches need it");
  }
  if (!row["has_up"].as<bool>()) {
    return absl::FailedPreconditionError(
        "the booking store lacks what `migrator up` adds; run `migrator up` first");
  }
  if (!row["has_updated_at"].as<bool>()) {
    return absl::FailedPreconditionError(
        "\"Booking\" has no \"updatedAt\" column: not the Prisma shape the migrator adopts");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StoreInfo> ReadStore(Tx& tx) {
  pqxx::result r = tx.Exec(R"(
      SELECT c.oid AS table_oid, c.oid::regclass::text AS table_name, a.atttypid AS type_oid,
             format_type(a.atttypid, NULL) AS type_printed, t.typtype AS type_kind,
             tn.nspname AS type_schema, t.typname AS type_name,
             pg_type_is_visible(t.oid) AS type_visible, current_schema() AS store_schema,
             c.relkind::text AS relkind
      FROM pg_class c
      LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'status' AND NOT a.attisdropped
      LEFT JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace
      WHERE c.oid = to_regclass('"Booking"'))");
  if (r.empty()) {
    return absl::FailedPreconditionError(
        "no \"Booking\" table in the store's schema; run `migrator up` (or name the schema with "
        "--schema)");
  }
  const pqxx::row row = r.front();
  if (row["type_oid"].is_null()) {
    return absl::FailedPreconditionError("\"Booking\" has no status column: not a booking store");
  }
  if (row["type_kind"].as<std::string>() != "e") {
    return absl::FailedPreconditionError(absl::StrCat("\"Booking\".status is of type ",
                                                      row["type_printed"].c_str(),
                                                      ", not an enum: nothing to migrate"));
  }
  if (absl::Status shape = CheckStoreShape(tx, row["table_oid"].as<uint32_t>()); !shape.ok())
    return shape;
  StoreInfo store;
  store.schema = row["store_schema"].as<std::string>();
  store.table_oid = row["table_oid"].as<uint32_t>();
  store.table = row["table_name"].as<std::string>();
  store.type_oid = row["type_oid"].as<uint32_t>();
  store.type = row["type_printed"].as<std::string>();
  store.type_schema = row["type_schema"].as<std::string>();
  store.type_name = row["type_name"].as<std::string>();
  const std::string next = Suffixed(store.type_name, kNextTypeSuffix);
  store.next_type = row["type_visible"].as<bool>()
                        ? tx.Name(next)
                        : absl::StrCat(tx.Name(store.type_schema), ".", tx.Name(next));
  for (const pqxx::row& l :
       tx.Params("SELECT enumlabel::text AS label FROM pg_enum WHERE enumtypid = $1 "
                 "ORDER BY enumsortorder",
                 store.type_oid)) {
    store.labels.push_back(l["label"].as<std::string>());
  }
  return store;
}

PlanObject& AddFound(StatusPlan& plan, const std::string& kind, const std::string& name,
                     const std::string& detail) {
  for (PlanObject& o : *plan.mutable_objects()) {
    if (o.kind() == kind && o.name() == name) return o;  // said once
  }
  PlanObject& o = *plan.add_objects();
  o.set_kind(kind);
  o.set_name(name);
  o.set_detail(detail);
  return o;
}

OwnerFacts OwnerFacts::FromRow(const pqxx::row& row) {
  const pqxx::field owner = row["rel_owner"];
  const pqxx::field can_alter = row["rel_can_alter"];
  const pqxx::field schema = row["rel_schema"];
  const pqxx::field usage = row["rel_schema_usage"];
  const pqxx::field create = row["rel_schema_create"];
  OwnerFacts facts;
  facts.owner = owner.is_null() ? "" : owner.as<std::string>();
  facts.can_alter = !can_alter.is_null() && can_alter.as<bool>();
  facts.schema = schema.is_null() ? "" : schema.as<std::string>();
  facts.schema_usage = !usage.is_null() && usage.as<bool>();
  facts.schema_create = !create.is_null() && create.as<bool>();
  return facts;
}

void OwnerFacts::SetOn(PlanObject& o) const {
  o.set_owner(owner);
  o.set_can_alter(can_alter);
  o.set_schema(schema);
  o.set_schema_usage(schema_usage);
  o.set_schema_create(schema_create);
}

std::string TaintedTypesLiteral(const StatusPlan& plan) {
  std::string out = absl::StrCat("{", plan.types().enum_oid(), ",", plan.types().array_oid());
  for (const auto& [oid, name] : plan.types().containers()) absl::StrAppend(&out, ",", oid);
  return out + "}";
}

std::vector<const PlanObject*> ObjectsOfKind(const StatusPlan& plan, const std::string& kind) {
  std::vector<const PlanObject*> out;
  for (const PlanObject& o : plan.objects()) {
    if (o.kind() == kind) out.push_back(&o);
  }
  return out;
}

namespace {

// Labels of the type that belong to neither set: contract would drop them.
void ReadLabels(const StoreInfo& store, StatusPlan& plan) {
  for (const std::string& l : store.labels) {
    plan.add_labels(l);
    if (!IsKnownLabel(l)) AddFound(plan, "label", absl::StrCat("'", l, "'"), l);
  }
}

}  // namespace

StatusPlan ReadInventory(Tx& tx, const StoreInfo& store) {
  StatusPlan plan;
  plan.set_schema(store.schema);
  plan.set_type(store.type);
  plan.set_table(store.table);
  ReadTypeFacts(tx, store, plan);
  ReadRoleFacts(tx, store, plan);
  ReadLabels(store, plan);
  ReadColumns(tx, store, plan);
  ReadIndexes(tx, store, plan);
  ReadViews(tx, store, plan);
  ReadTableObjects(tx, store, plan);
  ReadOtherDependents(tx, store, plan);
  ReadFunctions(tx, store, plan);
  ReadOperatorNames(tx, plan);
  return plan;
}

}  // namespace booking::migrator
