#include "migrator/enum_catalog.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace booking::migrator {
namespace {

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '"' || c == '$';
}

}  // namespace

std::vector<std::string> EnumLabels(pqxx::transaction_base& txn, const std::string& type) {
  std::vector<std::string> labels;
  pqxx::result r = txn.exec_params(
      "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = to_regtype($1) ORDER BY enumsortorder",
      type);
  for (const pqxx::row& row : r) labels.push_back(row[0].as<std::string>());
  return labels;
}

EnumDependents FindDependents(pqxx::transaction_base& txn, const std::string& type) {
  EnumDependents deps;
  // Table columns of the type.
  pqxx::result cols = txn.exec_params(
      R"(SELECT a.attrelid::regclass::text, quote_ident(a.attname), a.attname::text, a.attnotnull,
                COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.atttypid = to_regtype($1) AND a.attnum > 0 AND NOT a.attisdropped
           AND c.relkind IN ('r', 'p')
         ORDER BY 1, 2)",
      type);
  for (const pqxx::row& row : cols) {
    deps.columns.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                            row[2].as<std::string>(), row[3].as<bool>(), row[4].as<std::string>()});
  }
  // Indexes that use those columns (keys, expressions or predicates).
  pqxx::result idx = txn.exec_params(
      R"(SELECT DISTINCT quote_ident(ic.relname), i.indexrelid::regclass::text,
                i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisvalid,
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.refclassid = 'pg_class'::regclass AND a.atttypid = to_regtype($1)
         ORDER BY 2)",
      type);
  for (const pqxx::row& row : idx) {
    if (row[5].as<bool>()) {
      deps.blockers.push_back(
          absl::StrCat("index ", row[1].c_str(), " backs a constraint on a column of the type"));
      continue;
    }
    deps.indexes.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                            row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<bool>()});
  }
  // Views over the columns or naming the type, and views over those views.
  pqxx::result views = txn.exec_params(
      R"(WITH RECURSIVE direct AS (
           SELECT DISTINCT r.ev_class AS view
           FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
           LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
           WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid
             AND (d.refobjid = to_regtype($1) OR a.atttypid = to_regtype($1))
         ), tree(view, depth) AS (
           SELECT view, 0 FROM direct
           UNION
           SELECT r.ev_class, tree.depth + 1
           FROM tree JOIN pg_depend d ON d.refobjid = tree.view AND d.classid = 'pg_rewrite'::regclass
           JOIN pg_rewrite r ON r.oid = d.objid
           WHERE r.ev_class <> tree.view AND tree.depth < 20
         )
         SELECT c.oid::regclass::text, c.relkind::text, pg_get_viewdef(c.oid),
                COALESCE(array_to_string(c.reloptions, ', '), ''), pg_get_userbyid(c.relowner),
                max(t.depth)
         FROM tree t JOIN pg_class c ON c.oid = t.view
         GROUP BY c.oid
         ORDER BY max(t.depth), 1)",
      type);
  for (const pqxx::row& row : views) {
    const std::string name = row[0].as<std::string>();
    if (row[1].as<std::string>() != "v") {
      deps.blockers.push_back(absl::StrCat("materialized view ", name,
                                           " uses the type: drop it before, recreate it after"));
      continue;
    }
    DependentView v{
        name, row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<std::string>(),
        {},   row[5].as<int>()};
    pqxx::result acl = txn.exec_params(
        R"(SELECT privilege_type, CASE WHEN grantee = 0 THEN 'PUBLIC'
                                       ELSE quote_ident(pg_get_userbyid(grantee)) END
           FROM pg_class c, aclexplode(c.relacl)
           WHERE c.oid = $1::regclass AND grantee <> c.relowner)",
        name);
    for (const pqxx::row& g : acl) {
      v.grants.push_back(absl::StrCat("GRANT ", g[0].c_str(), " ON ", name, " TO ", g[1].c_str()));
    }
    deps.views.push_back(std::move(v));
  }
  // What the phases do not carry over by themselves.
  pqxx::result other = txn.exec_params(
      R"(SELECT 'function ' || p.oid::regprocedure::text || ' takes or returns the type'
         FROM pg_proc p
         WHERE to_regtype($1) = ANY(p.proargtypes::oid[]) OR p.prorettype = to_regtype($1)
         UNION ALL
         SELECT 'column ' || a.attrelid::regclass::text || '.' || quote_ident(a.attname) ||
                ' is an array of the type'
         FROM pg_attribute a JOIN pg_type t ON t.oid = to_regtype($1)
         WHERE a.atttypid = t.typarray AND a.attnum > 0 AND NOT a.attisdropped
         UNION ALL
         SELECT 'check constraint ' || quote_ident(k.conname) || ' on ' ||
                k.conrelid::regclass::text || ' uses a column of the type'
         FROM pg_constraint k JOIN pg_attribute a
           ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
         WHERE k.contype = 'c' AND a.atttypid = to_regtype($1)
           AND k.conname NOT LIKE '%\_\_next\_not\_null'
         UNION ALL
         SELECT 'type ' || t.oid::regtype::text || ' is built on the type'
         FROM pg_type t
         WHERE t.typbasetype = to_regtype($1)
            OR EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                       WHERE c.reltype = t.oid AND c.relkind = 'c' AND a.atttypid = to_regtype($1)))",
      type);
  for (const pqxx::row& row : other) deps.blockers.push_back(row[0].as<std::string>());
  return deps;
}

std::string ReplaceIdentifier(const std::string& sql, const std::string& ident,
                              const std::string& replacement) {
  std::string out;
  size_t i = 0;
  while (i < sql.size()) {
    if (sql[i] == '\'') {  // copy a string literal as it is
      const size_t end = sql.find('\'', i + 1);
      const size_t stop = end == std::string::npos ? sql.size() : end + 1;
      out.append(sql, i, stop - i);
      i = stop;
      continue;
    }
    const bool boundary_before = i == 0 || !IsIdentChar(sql[i - 1]);
    const size_t after = i + ident.size();
    if (boundary_before && sql.compare(i, ident.size(), ident) == 0 &&
        (after >= sql.size() || !IsIdentChar(sql[after]))) {
      out.append(replacement);
      i = after;
      continue;
    }
    out.push_back(sql[i]);
    ++i;
  }
  return out;
}

}  // namespace booking::migrator
