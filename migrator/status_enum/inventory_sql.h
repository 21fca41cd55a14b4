// SQL fragments the inventory's queries share, and the reading of their
// columns (by name).
#ifndef MIGRATOR_STATUS_ENUM_INVENTORY_SQL_H_
#define MIGRATOR_STATUS_ENUM_INVENTORY_SQL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/inventory.h"
#include "pqxx/pqxx"

namespace booking::migrator {

// True when object (`classid`, `objid`) depends on the type `type_param`
// ($n holding its oid), on its array type, or on a column of the type.
inline std::string DependsOnTypeSql(const std::string& classid, const std::string& objid,
                                    const std::string& type_param) {
  return absl::StrCat(
      "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = ", classid, " AND d.objid = ", objid,
      " AND d.deptype IN ('n', 'a') AND ((d.refclassid = 'pg_type'::regclass AND d.refobjid IN (",
      type_param, ", (SELECT typarray FROM pg_type WHERE oid = ", type_param,
      "))) OR (d.refclassid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_attribute a "
      "WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid AND a.atttypid = ",
      type_param, "))))");
}

// Five columns about relation `rel` (an oid expression), by name: rel_owner
// (its owner), rel_can_alter (whether the migrator's role may change it),
// rel_schema (its schema), rel_schema_usage and rel_schema_create (the
// role's USAGE and CREATE there). OwnerFacts::FromRow reads them.
inline std::string OwnerFactsSql(const std::string& rel) {
  const std::string owner = absl::StrCat("(SELECT relowner FROM pg_class WHERE oid = ", rel, ")");
  const std::string ns = absl::StrCat("(SELECT relnamespace FROM pg_class WHERE oid = ", rel, ")");
  return absl::StrCat("pg_get_userbyid(", owner, ") AS rel_owner, pg_has_role(", owner,
                      ", 'USAGE') AS rel_can_alter, (SELECT nspname::text FROM pg_namespace "
                      "WHERE oid = ",
                      ns, ") AS rel_schema, has_schema_privilege(", ns,
                      ", 'USAGE') AS rel_schema_usage, has_schema_privilege(", ns,
                      ", 'CREATE') AS rel_schema_create");
}

// The five columns of OwnerFactsSql in a row, read by name.
struct OwnerFacts {
  std::string owner;  // each "" (or false) when NULL
  bool can_alter = false;
  std::string schema;
  bool schema_usage = false;
  bool schema_create = false;

  static OwnerFacts FromRow(const pqxx::row& row);
  // Sets owner, can_alter, schema, schema_usage and schema_create of `o`.
  void SetOn(PlanObject& o) const;
};

// The grantee of an aclexplode() row as SQL spells it.
inline constexpr char kGranteeSql[] =
    "CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END";

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_INVENTORY_SQL_H_
