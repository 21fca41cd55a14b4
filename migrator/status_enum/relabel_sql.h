// The relabel statements, built once per run.
#ifndef MIGRATOR_STATUS_ENUM_RELABEL_SQL_H_
#define MIGRATOR_STATUS_ENUM_RELABEL_SQL_H_

#include <string>

#include "migrator/status_enum/context.h"
#include "migrator/status_enum/relabel.h"

namespace booking::migrator {

// One batch of "Booking".status: $1 the labels to relabel (text[]), $2 the
// id the batch starts after, $3 the batch's size (rows of the table, in id
// order), $4 the history reason, $5 the last id of the range the batch is
// in ('' for no end: a worker's range, relabel_workers.h). Returns one row:
// `upper` (the batch's last id: the next batch starts after it; NULL when
// no id of the range follows $2),
// `relabelled` (bookings whose label changed) and `moved` (those of them
// whose status changed in history's names, each with its event). One
// statement, one round trip; it is meant to be prepared once (Tx::Prepared).
//
// The rows are locked and read in one SELECT ... FOR UPDATE SKIP LOCKED:
// under READ COMMITTED a row updated after the statement's snapshot is
// locked in its newest version, rechecked and returned as that version, so
// the new label (and the IN_SERVICE rule) is computed from the row as it is
// when locked. A booking whose status changes (forward: IN_WORKSHOP to
// IN_SERVICE by the rule; back: every relabel, see relabel.h) gets its
// version bumped and its outbox event in the same statement; a relabel
// that keeps the status (an old label to its own new name) keeps the
// version and writes no event.
std::string BookingBatchSql(Tx& tx, const StoreInfo& store, Direction direction,
                            const std::string& in_service_rule);

// One TID range of another column: $1 labels (text[]), $2 $3 first and
// past-last page. The new value is computed from the row being updated.
std::string OtherColumnBatchSql(Tx& tx, const StoreInfo& store, const std::string& leaf,
                                const std::string& column, Direction direction);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_RELABEL_SQL_H_
