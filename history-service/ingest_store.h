// The statements of one ingest transaction: lock the batch's bookings, read
// what the store holds for them, insert the planned rows (held-back events:
// ingest_held.h). Each takes the whole batch in one statement; LoadState's
// three reads go in one message.
#ifndef HISTORY_SERVICE_INGEST_STORE_H_
#define HISTORY_SERVICE_INGEST_STORE_H_

#include <set>
#include <string>
#include <vector>

#include "common/pqxx_fwd.h"
#include "history-service/feed_queue.h"
#include "history-service/ingest_encoding.h"
#include "history-service/ingest_plan.h"

namespace booking {

// The encoded events as the table would hold them (uuid and jsonb as
// PostgreSQL prints them, "createdAt" at its millisecond precision).
std::vector<RowContent> NormalizeEvents(pqxx::transaction_base& txn,
                                        const history::v1::IngestRequest& batch,
                                        const EncodedEvents& encoded);

// Transaction-scoped advisory locks on the bookings, taken in one order:
// two streams never decide a booking's next sequence at once.
void LockBookings(pqxx::transaction_base& txn, const std::set<std::string>& bookings);

IngestState LoadState(pqxx::transaction_base& txn, const std::set<std::string>& bookings,
                      const std::set<std::string>& event_ids);

// Inserts `rows` (with their chain hashes) in one statement, which also
// queues them, in order, for the feed's sequencer (feed_sequencer.h) and
// wakes the sequencers on commit.
void InsertRows(pqxx::transaction_base& txn, const std::vector<PlannedRow>& rows);

}  // namespace booking

#endif  // HISTORY_SERVICE_INGEST_STORE_H_
