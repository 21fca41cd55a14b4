// Readers against the writer, shared by read_starvation_test (which asserts)
// and bench/history/history_verify_bench (which prints figures): a history
// store of many hash-chained rows loaded fast in SQL, closed-loop readers
// looping on the read methods, and an Ingest client timing each batch.
#ifndef TESTS_SUPPORT_READ_LOAD_H_
#define TESTS_SUPPORT_READ_LOAD_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"

namespace booking::testing {

// The id of loaded booking `b` (1-based): "bk-00000042".
std::string LoadedBookingId(int b);

// Drops the history table's indexes and unique constraints (a bulk load then
// builds them once, sorted, instead of millions of random inserts); returns
// the statements that build them again exactly.
std::vector<std::string> DropHistoryIndexes(pqxx::connection& conn);

// `bookings` bookings of `per_booking` rows each, row k of every booking
// before row k+1 of any (a booking's rows on different pages, as changes
// days apart leave them), hash-chained by history-service's own code and
// stored by its own multi-row insert (history-service/ingest_store.h), 5,000
// rows a statement, with the table's indexes dropped and built again after
// (no per-booking checks: every row is its booking's next). Needs the
// schema's owner (a test cluster's superuser).
absl::Status LoadChainedHistory(const std::string& url, int bookings, int per_booking);

// Waits until the store's newest checkpoint covers `rows` rows.
absl::Status WaitForCheckpoint(const std::string& url, int64_t rows, absl::Duration timeout);

// Latencies, sorted; the quantile `p` (0..1) of them, zero for none.
absl::Duration Quantile(const std::vector<absl::Duration>& sorted, double p);

// What a run of Ingest batches saw.
struct IngestRun {
  std::vector<absl::Duration> latencies;  // each acknowledged batch's, sorted
  int refused = 0;                        // streams ended RESOURCE_EXHAUSTED
  int failed = 0;                         // ended with any other error
  std::string first_error;
};

// Sends `batches` batches of `batch_size` events (each a new booking's first
// entry, ids from `first_event`) one after another on one Ingest stream
// (opened again after an error), each timed from write to acknowledgement.
IngestRun MeasureIngest(const std::string& target, const std::string& prefix, int64_t first_event,
                        int batches, int batch_size);

// `n` closed-loop callers, each calling VerifyHistory, ListHistory and
// GetBookingHistory in turn on random loaded bookings until Stop, as fast
// as answers come. A refusal is called again at once (kIgnore: the worst
// caller) or after the delay its google.rpc.RetryInfo asks for (kHonour: a
// client that follows the server's pushback).
// Thread safe.
class Readers {
 public:
  struct Counts {
    int64_t ok = 0;
    int64_t exhausted = 0;  // RESOURCE_EXHAUSTED
    int64_t other = 0;
    std::string first_other;
  };
  enum class Pushback { kIgnore, kHonour };
  Readers(const std::string& target, int bookings, int n, Pushback pushback = Pushback::kIgnore);
  ~Readers() { Stop(); }
  Readers(const Readers&) = delete;
  Readers& operator=(const Readers&) = delete;

  // Calls answered so far, either way.
  int64_t calls() const { return ok_ + exhausted_ + other_; }
  Counts Stop();

 private:
  void Loop(const std::string& target, int bookings, int seed, Pushback pushback);

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0}, exhausted_{0}, other_{0};
  std::string first_other_;  // written once, before other_ counts it
  std::atomic<bool> other_seen_{false};
  std::vector<std::thread> threads_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_READ_LOAD_H_
