#include "migrator/partition_inventory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace booking::migrator {
namespace {

// Made by schema steps 0001, 0002, 0005 and 0014, carried by the change.
constexpr const char* kKnownConstraints[] = {"BookingStatusHistory_pkey",
                                             "BookingStatusHistory_eventId_key",
                                             "BookingStatusHistory_bookingId_sequence_key",
                                             "BookingStatusHistory_metadata_check",
                                             "BookingStatusHistory_sequence_check",
                                             kBeforeBound};
constexpr const char* kKnownTriggers[] = {"BookingStatusHistory_no_update_delete",
                                          "BookingStatusHistory_no_truncate",
                                          "BookingStatusHistory_keys"};
// Unique within the old table only; each new partition gets its own.
constexpr const char* kLocalIndexes[] = {"BookingStatusHistory_pkey",
                                         "BookingStatusHistory_eventId_key",
                                         "BookingStatusHistory_bookingId_sequence_key"};

std::string ArrayLiteral(pqxx::transaction_base& txn, const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& n : names) quoted.push_back(txn.quote(n));
  return absl::StrCat("ARRAY[", absl::StrJoin(quoted, ","), "]::text[]");
}

template <size_t N>
std::vector<std::string> Names(const char* const (&names)[N]) {
  return std::vector<std::string>(names, names + N);
}

// The catalog's own dependency list: what depends on the table or its row
// type and is not one of ours.
std::string DependentsSql(pqxx::transaction_base& txn) {
  std::vector<std::string> indexes = Names(kLocalIndexes);
  for (const auto& [name, definition] : SharedIndexes()) indexes.push_back(name);
  return absl::StrCat(R"(
    WITH t AS (SELECT oid, reltype FROM pg_class WHERE oid = to_regclass('"BookingStatusHistory"')),
    deps AS (
      SELECT d.classid, d.objid, d.objsubid, d.deptype FROM pg_depend d, t
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid
      UNION
      SELECT d.classid, d.objid, d.objsubid, d.deptype FROM pg_depend d, t
      WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = t.reltype)
    SELECT pg_describe_object(classid, objid, objsubid) AS what FROM deps
    WHERE NOT (
      (classid = 'pg_type'::regclass AND deptype = 'i')
      OR classid = 'pg_attrdef'::regclass
      OR (classid = 'pg_constraint'::regclass AND
          (SELECT conname FROM pg_constraint WHERE oid = objid) = ANY ()",
                      ArrayLiteral(txn, Names(kKnownConstraints)), R"())
      OR (classid = 'pg_class'::regclass AND deptype = 'i' AND
          (SELECT relkind = 't' FROM pg_class WHERE oid = objid))
      OR (classid = 'pg_class'::regclass AND
          (SELECT relkind = 'i' AND relname = ANY ()",
                      ArrayLiteral(txn, indexes), R"() FROM pg_class WHERE oid = objid))
      OR (classid = 'pg_trigger'::regclass AND
          (SELECT tgname = ANY ()",
                      ArrayLiteral(txn, Names(kKnownTriggers)),
                      R"() FROM pg_trigger WHERE oid = objid))
      OR (classid = 'pg_proc'::regclass AND
          (SELECT proname = 'BookingStatusHistory_canonical' FROM pg_proc WHERE oid = objid)))
    ORDER BY 1)");
}

// What the table is (not what depends on it) that the change cannot carry.
constexpr char kTableShapeSql[] = R"(
    SELECT what FROM (
      SELECT 'row level security is enabled on the table' AS what FROM pg_class
        WHERE oid = to_regclass('"BookingStatusHistory"') AND relrowsecurity
      UNION ALL SELECT format('the table is in publication %I', pubname) FROM pg_publication_tables
        WHERE schemaname = current_schema() AND tablename = 'BookingStatusHistory'
      UNION ALL SELECT format('the table inherits from %s', inhparent::regclass) FROM pg_inherits
        WHERE inhrelid = to_regclass('"BookingStatusHistory"')
      UNION ALL SELECT format('table %s inherits from the table', inhrelid::regclass) FROM pg_inherits
        WHERE inhparent = to_regclass('"BookingStatusHistory"')
      UNION ALL SELECT format('its replica identity is %s, not the default',
                              CASE relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
                                                ELSE 'an index' END) FROM pg_class
        WHERE oid = to_regclass('"BookingStatusHistory"') AND relreplident <> 'd') AS s
    ORDER BY 1)";

}  // namespace

const std::vector<std::pair<std::string, std::string>>& SharedIndexes() {
  static const auto* const kIndexes = new std::vector<std::pair<std::string, std::string>>{
      {"BookingStatusHistory_toStatus_idx", R"(btree ("toStatus"))"},
      {"BookingStatusHistory_createdAt_idx", R"(btree ("createdAt"))"},
      {"BookingStatusHistory_changedBy_idx", R"(btree ("changedBy"))"},
      {"BookingStatusHistory_createdAt_id_idx", R"(btree ("createdAt", id))"},
      {"BookingStatusHistory_changedBy_createdAt_idx", R"(btree ("changedBy", "createdAt", id))"},
      {"BookingStatusHistory_toStatus_createdAt_idx", R"(btree ("toStatus", "createdAt", id))"},
      {"BookingStatusHistory_fromStatus_createdAt_idx",
       R"(btree ("fromStatus", "createdAt", id))"}};
  return *kIndexes;
}

std::vector<std::string> UnknownDependents(pqxx::transaction_base& txn) {
  std::vector<std::string> out;
  for (const pqxx::row& r : txn.exec(DependentsSql(txn))) out.push_back(r["what"].c_str());
  for (const pqxx::row& r : txn.exec(kTableShapeSql)) out.push_back(r["what"].c_str());
  // Our shared indexes as the steps made them: valid, whole, these columns.
  for (const auto& [name, definition] : SharedIndexes()) {
    const pqxx::result r = txn.exec_params(
        R"(SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') AS def,
                  i.indisvalid AS valid
           FROM pg_index i WHERE i.indexrelid = to_regclass($1)
             AND i.indrelid = to_regclass('"BookingStatusHistory"'))",
        txn.quote_name(name));
    if (r.empty()) {
      out.push_back(absl::StrCat("index ", name, " is missing (run `migrator up`)"));
    } else if (r[0]["def"].as<std::string>() != definition || !r[0]["valid"].as<bool>()) {
      out.push_back(absl::StrCat("index ", name, " is ", r[0]["def"].as<std::string>(),
                                 r[0]["valid"].as<bool>() ? "" : " (invalid)", " where ",
                                 definition, " was expected"));
    }
  }
  return out;
}

}  // namespace booking::migrator
