// What a PostgreSQL enum type holds and what depends on it, read from the
// catalog (never assumed): its labels, the table columns of the type, the
// indexes on those columns (partial ones included), the views over them, and
// the objects the phases cannot carry over by themselves (blockers).
#ifndef MIGRATOR_ENUM_CATALOG_H_
#define MIGRATOR_ENUM_CATALOG_H_

#include <string>
#include <vector>

#include "pqxx/pqxx"

namespace booking::migrator {

struct EnumColumn {
  std::string table;        // as regclass prints it, e.g. "Booking" or public."Booking"
  std::string column;       // quoted as needed
  std::string column_name;  // raw
  bool not_null = false;
  std::string default_expr;  // pg_get_expr of the default, or empty
};

struct DependentIndex {
  std::string name;        // quoted as needed, without schema
  std::string qualified;   // as regclass prints it
  std::string table;       // as regclass prints it
  std::string definition;  // pg_get_indexdef
  bool valid = true;
};

struct DependentView {
  std::string name;  // as regclass prints it
  std::string definition;
  std::string options;  // reloptions, "a=b, c=d"
  std::string owner;
  std::vector<std::string> grants;  // GRANT statements that restore its privileges
  int depth = 0;                    // views over views come later
};

struct EnumDependents {
  std::vector<EnumColumn> columns;
  std::vector<DependentIndex> indexes;
  std::vector<DependentView> views;  // in creation order
  std::vector<std::string> blockers;
};

// The type's labels in their order; empty when the type does not exist.
std::vector<std::string> EnumLabels(pqxx::transaction_base& txn, const std::string& type);

// `type` as a quoted name, e.g. "\"BookingStatus\"".
EnumDependents FindDependents(pqxx::transaction_base& txn, const std::string& type);

// Replaces the identifier `ident` (as printed: quoted when needed) outside
// string literals, where it stands as a whole token.
std::string ReplaceIdentifier(const std::string& sql, const std::string& ident,
                              const std::string& replacement);

}  // namespace booking::migrator

#endif  // MIGRATOR_ENUM_CATALOG_H_
