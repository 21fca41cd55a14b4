#include "bench/delivery/streams.h"

#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/delivery/bench_support.h"
#include "pqxx/pqxx"
#include "tests/support/ingest_client.h"

namespace booking::testing {
namespace {

const char* const kPath[] = {"PENDING_PAYMENT", "CONFIRMED", "PICKUP_ASSIGNED", "PICKED_UP",
                             "AT_WORKSHOP"};

// One stream's batches: bookings of its own ("<run>-<stream>-<n>"), five
// events each in sequence order, a booking's events in consecutive batches.
void SendStream(const std::string& target, const std::string& prefix, int64_t first_id,
                const StreamsOptions& o) {
  IngestClient client(target);
  int64_t n = 0;
  for (int b = 0; b < o.batches; ++b) {
    std::vector<history::v1::StatusChangeEvent> events;
    for (int i = 0; i < o.batch_events; ++i, ++n) {
      const int s = static_cast<int>(n % 5) + 1;
      events.push_back(StatusEvent(EventId(first_id + n), absl::StrCat(prefix, n / 5), s,
                                   s == 1 ? "" : kPath[s - 2], kPath[s - 1], "streams-bench"));
    }
    absl::StatusOr<history::v1::IngestAck> ack = client.Send(events);
    Check(ack.status(), "ingest");
    if (ack->stored() != o.batch_events) Die(absl::StrCat(prefix, ": batch not stored whole"));
  }
}

// Milliseconds spent in the feed lock's statement (its wait) since the last
// reset, and the reset; -1 without pg_stat_statements.
double FeedLockMs(const std::string& url, bool profile) {
  if (!profile) return -1;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  txn.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const pqxx::row r = txn.exec1(
      R"(SELECT COALESCE(sum(total_exec_time), 0) FROM pg_stat_statements
         WHERE query LIKE 'SELECT pg_advisory_xact_lock($1, $2)%')");
  txn.exec("SELECT pg_stat_statements_reset()");
  return r[0].as<double>();
}

double Run(const ServiceSet& s, const StreamsOptions& o, int streams, int64_t first_id) {
  (void)FeedLockMs(s.history_url(), o.profile);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int k = 0; k < streams; ++k) {
    const int64_t ids = int64_t{o.batches} * o.batch_events;
    threads.emplace_back(SendStream, s.history_target(),
                         absl::StrCat("streams", streams, "-", k, "-"), first_id + k * ids, o);
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double events = static_cast<double>(streams) * o.batches * o.batch_events;
  const double lock_ms = FeedLockMs(s.history_url(), o.profile);
  std::printf("ingest streams: %d at once, %d batches of %d events each: %.2f s = %s events/s",
              streams, o.batches, o.batch_events, seconds, Thousands(events / seconds).c_str());
  if (lock_ms >= 0) {
    std::printf("; waiting for the feed lock %.0f ms in all (%.2f ms per batch)", lock_ms,
                lock_ms / (static_cast<double>(streams) * o.batches));
  }
  std::printf("\n");
  return events / seconds;
}

}  // namespace

StreamsResult RunStreams(const ServiceSet& s, const StreamsOptions& options) {
  StreamsResult r;
  r.one_stream_events_per_s = Run(s, options, 1, 900000000);
  r.many_streams_events_per_s = Run(s, options, options.streams, 950000000);
  return r;
}

}  // namespace booking::testing
