// Statements that recreate or replace the objects the migrator carries.
//
// Throwing: functions taking a Tx& throw libpqxx exceptions into the Db call
// they run inside (see db.h); the others never throw (those reaching the
// store return a status).
#ifndef MIGRATOR_STATUS_ENUM_OBJECTS_SQL_H_
#define MIGRATOR_STATUS_ENUM_OBJECTS_SQL_H_

#include <string>

#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"

namespace booking::migrator {

// "CREATE POLICY ..." for `o` with the given expressions.
std::string CreatePolicySql(Tx& tx, const PlanObject& o, const std::string& qual,
                            const std::string& check);
// "CREATE TRIGGER ..." / "CREATE RULE ..." made "CREATE OR REPLACE ...".
std::string OrReplace(const std::string& create_statement);
// The statement giving a recreated trigger or rule (`what`: "TRIGGER" or
// "RULE") its firing state back; empty for the default state.
std::string FiringStateSql(Tx& tx, const std::string& what, const PlanObject& o);
// A CHECK definition without a trailing NOT VALID.
std::string CheckBody(const std::string& definition);
// CREATE [OR REPLACE] VIEW with `o`'s options.
std::string ViewSql(const PlanObject& o, const std::string& query, bool replace);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_OBJECTS_SQL_H_
