// Concurrent Ingest streams into one history-service: events/s with one
// stream and with several at once (each stream its own bookings, small
// batches as the relay sends under steady load), to see whether history
// stores them in parallel or its feed's commit-order lock
// (history-service/ingest_store.cc AssignFeedPositions) serialises them.
// With pg_stat_statements loaded (delivery-bench --profile) the time spent
// waiting for that lock is printed too.
#ifndef BENCH_DELIVERY_STREAMS_H_
#define BENCH_DELIVERY_STREAMS_H_

#include "tests/support/service_set.h"

namespace booking::testing {

struct StreamsOptions {
  int streams = 4;        // the concurrent run's; a run with one stream comes first
  int batches = 300;      // per stream
  int batch_events = 30;  // per batch
  bool profile = false;   // pg_stat_statements loaded on the history server
};

struct StreamsResult {
  double one_stream_events_per_s = 0;
  double many_streams_events_per_s = 0;
};

// history-service must be running.
StreamsResult RunStreams(const ServiceSet& s, const StreamsOptions& options);

}  // namespace booking::testing

#endif  // BENCH_DELIVERY_STREAMS_H_
