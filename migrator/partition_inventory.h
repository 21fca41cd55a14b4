// What `migrator partition-history` (partition_history.h) reads of the
// catalog before it changes anything: every object that depends on
// "BookingStatusHistory" or its row type, checked against the list of the
// objects the history store's schema steps made and the change carries.
// Thread safety: functions of their arguments.
#ifndef MIGRATOR_PARTITION_INVENTORY_H_
#define MIGRATOR_PARTITION_INVENTORY_H_

#include <string>
#include <vector>

#include "pqxx/pqxx"

namespace booking::migrator {

// The indexes of the history table that the partitioned table has too (its
// own, so every partition gets them): name -> "btree (columns)" as
// pg_get_indexdef gives it after "USING ". The old table's indexes of
// these names must have exactly these columns (ATTACH then uses them and
// builds nothing).
const std::vector<std::pair<std::string, std::string>>& SharedIndexes();

// The bound CHECK's name on the table that becomes the first partition.
inline constexpr char kBeforeBound[] = "BookingStatusHistory_before_bound";

// Each object depending on the unpartitioned history table (or its row
// type) that the change does not know, described ("view x", "trigger t on
// table ...", "index i: btree (...) where btree (...) was expected"), plus
// what the table is that the change cannot carry (row level security, a
// publication, inheritance). Empty: the change may go ahead. Throws what
// libpqxx throws.
std::vector<std::string> UnknownDependents(pqxx::transaction_base& txn);

}  // namespace booking::migrator

#endif  // MIGRATOR_PARTITION_INVENTORY_H_
