// The two sides of the ingest figure, shared by history-ingest-bench (empty
// stores) and history-log-bench (stores of 1M and 10M rows): the history
// store's own ingest until every event is in the log's tree, and the plain
// insert history did before issue 9. In-process, on a real PostgreSQL 15.
// Not thread-safe: one run at a time per store.
#ifndef BENCH_HISTORY_INGEST_RUNS_H_
#define BENCH_HISTORY_INGEST_RUNS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/pg.h"
#include "history/v1/history.pb.h"

namespace booking::bench {

// A pool of 2 connections set as the services' pools are
// (common/service_startup.cc): no parallel workers.
PgPool::Options BenchPoolOptions(const std::string& url);

// `events` events of bookings "<prefix><n>" (five each, in order), event ids
// from `first_id`, in batches of `per_batch`.
std::vector<history::v1::IngestRequest> IngestBatches(int events, int per_batch,
                                                      const std::string& prefix, int64_t first_id);

// Events/s through HistoryStore::StoreBatch until every event is in the
// log's Merkle tree (the feed's sequencer integrating, history-service's own
// thread), the log's checkpoint signed every second meanwhile (and the heads
// checkpoint every `heads_interval` when positive: off in the product).
double ChainedIngest(const std::string& url, const std::vector<history::v1::IngestRequest>& batches,
                     const std::string& key_file, absl::Duration heads_interval);

// Events/s of the insert history made before: one statement per batch,
// ON CONFLICT DO NOTHING, no locks, checks or hashes.
double PlainInsert(const std::string& url, const std::vector<history::v1::IngestRequest>& batches);

}  // namespace booking::bench

#endif  // BENCH_HISTORY_INGEST_RUNS_H_
