// The watch feed's queue ("BookingStatusHistoryFeedQueue", schema steps
// 0011 and 0013): an ingest transaction queues its rows there
// (ingest_store.h InsertRows), the feed's sequencer (feed_sequencer.h) gives
// them positions in queue order; readers of rows from before the feed
// (watch_feed.h, log_tree.h) leave out what waits there.
#ifndef HISTORY_SERVICE_FEED_QUEUE_H_
#define HISTORY_SERVICE_FEED_QUEUE_H_

namespace booking {

// NOTIFY'd by each ingest transaction that stored rows (on its commit): the
// feed's sequencers listen.
inline constexpr char kFeedQueueChannel[] = "history_feed_queue";

// The ids of the rows waiting in the queue, as a subquery (column id, never
// NULL): a batch's queue row holds them in "historyIds" (step 0013), a row
// queued alone in "historyId".
inline constexpr char kQueuedHistoryIds[] =
    R"(SELECT u.id FROM "BookingStatusHistoryFeedQueue" q,
              unnest(COALESCE(q."historyIds", ARRAY[q."historyId"])) AS u(id))";

}  // namespace booking

#endif  // HISTORY_SERVICE_FEED_QUEUE_H_
