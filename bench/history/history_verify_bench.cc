// history-verify-bench: what one reader's call costs, and what readers cost
// the writer. On a history store of --bookings x --per-booking hash-chained
// rows (default 100,000 x 10 = 1M) with a signed checkpoint:
//  1. VerifyHistory of one booking (random bookings, one caller), beside
//     GetBookingHistory of the same bookings in the same run: a per-booking
//     verify must cost the booking's rows, not the store's (target < 10 ms).
//  2. Ingest batch latency idle, then beside --readers closed-loop callers
//     looping on VerifyHistory, ListHistory and GetBookingHistory: p99 loaded
//     beside p99 idle, and no batch refused.
// Prints figures; not a test.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/common/die.h"
#include "bench/common/figure.h"
#include "common/config.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/read_load.h"
#include "tests/support/service_set.h"

ABSL_FLAG(int, bookings, 100000, "bookings in the history store");
ABSL_FLAG(int, per_booking, 10, "history rows of each booking");
ABSL_FLAG(int, readers, 32, "closed-loop readers beside Ingest");
ABSL_FLAG(int, calls, 2000, "VerifyHistory (and GetBookingHistory) calls measured");
ABSL_FLAG(int, batches, 300, "Ingest batches measured idle and again under the readers");
ABSL_FLAG(int, batch_size, 20, "events per Ingest batch");

namespace booking::testing {
namespace {

using bench::Die;

using Latencies = std::vector<absl::Duration>;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// `calls` calls of `method` on random loaded bookings (the same ones for
// every method: the same seed), one at a time, sorted latencies.
template <typename Call>
Latencies Time(int calls, int bookings, const Call& call) {
  std::mt19937 rng(42);
  Latencies l;
  for (int i = 0; i < calls; ++i) {
    const std::string booking = LoadedBookingId(1 + static_cast<int>(rng() % bookings));
    const absl::Time start = absl::Now();
    call(booking);
    l.push_back(absl::Now() - start);
  }
  std::sort(l.begin(), l.end());
  return l;
}

// VerifyHistory, then GetBookingHistory, of the same bookings; every answer
// checked (verified, every row).
std::pair<Latencies, Latencies> TimeReads(const std::string& target, int bookings,
                                          int per_booking) {
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  auto context_for = [](grpc::ClientContext& c) {
    c.AddMetadata("authorization", absl::StrCat("Bearer ", ServiceSet::kToken));
    c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  };
  const int calls = absl::GetFlag(FLAGS_calls);
  Latencies verify = Time(calls, bookings, [&](const std::string& booking) {
    grpc::ClientContext context;
    context_for(context);
    history::v1::VerifyHistoryRequest request;
    request.set_booking_id(booking);
    history::v1::VerifyHistoryResponse response;
    grpc::Status s = stub->VerifyHistory(&context, request, &response);
    if (!s.ok() || !response.verified() || response.rows_size() != per_booking ||
        response.checkpoint_sequence() != per_booking) {
      Die(absl::StrCat("VerifyHistory of ", booking, ": ", s.error_message(), response.problem()));
    }
  });
  Latencies get = Time(calls, bookings, [&](const std::string& booking) {
    grpc::ClientContext context;
    context_for(context);
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id(booking);
    history::v1::GetBookingHistoryResponse response;
    grpc::Status s = stub->GetBookingHistory(&context, request, &response);
    if (!s.ok() || response.entries_size() != per_booking) {
      Die(absl::StrCat("GetBookingHistory of ", booking, ": ", s.error_message()));
    }
  });
  return {verify, get};
}

std::string RowsLabel(int64_t rows) {
  if (rows >= 1000000) return absl::StrCat(rows / 1000000, "M");
  if (rows >= 1000) return absl::StrCat(rows / 1000, "k");
  return absl::StrCat(rows);
}

void Report(const std::string& who, const Latencies& l) {
  std::printf("%-52s %6zu calls  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", who.c_str(), l.size(),
              Ms(Quantile(l, 0.5)), Ms(Quantile(l, 0.99)),
              Ms(l.empty() ? absl::ZeroDuration() : l.back()));
}

// Starts history-service on the loaded store with its first checkpoint
// signed, then again with the default interval (no signing while measured).
void StartSigned(ServiceSet& set, int64_t rows) {
  const std::string key = set.log_dir() + "/checkpoint.key";
  std::ofstream(key) << std::string(64, '7') << "\n";
  if (absl::Status s =
          set.StartHistory({"--checkpoint-key", key, "--checkpoint-interval", "200ms"});
      !s.ok()) {
    Die(s.ToString());
  }
  if (absl::Status s = WaitForCheckpoint(set.history_url(), rows, absl::Minutes(5)); !s.ok()) {
    Die(s.ToString());
  }
  if (set.StopHistory(SIGTERM).value_or(-1) != 0) Die("history-service did not stop");
  if (absl::Status s = set.StartHistory({"--checkpoint-key", key}); !s.ok()) Die(s.ToString());
}

// Figure 1: VerifyHistory of one booking beside GetBookingHistory.
void VerifyBesideGet(const std::string& target, int bookings, int per_booking) {
  const int64_t rows = static_cast<int64_t>(bookings) * per_booking;
  const auto [verify, get] = TimeReads(target, bookings, per_booking);
  std::printf("\none caller, random bookings, the same ones for both:\n");
  Report("VerifyHistory of one booking", verify);
  Report("GetBookingHistory of the same booking", get);
  const double verify_p99 = Ms(Quantile(verify, 0.99));
  const double get_p99 = Ms(Quantile(get, 0.99));
  bench::PrintFigure(
      {.name = absl::StrFormat("VerifyHistory of one booking p99, %s rows", RowsLabel(rows)),
       .ours = absl::StrFormat("%.2f ms (p50 %.2f)", verify_p99, Ms(Quantile(verify, 0.5))),
       .yardstick = absl::StrFormat("%.2f ms (GetBookingHistory, same bookings)", get_p99),
       .ratio = absl::StrFormat("%.2fx", verify_p99 / std::max(0.001, get_p99)),
       .target = "< 10 ms",
       .met = verify_p99 < 10.0});
}

// Figure 2: Ingest idle, then beside readers that ignore the server's
// pushback (the worst callers) and beside readers that honour it.
IngestRun IngestBeside(const std::string& target, int bookings, int n, Readers::Pushback pushback,
                       int64_t first_event, Readers::Counts& counts) {
  Readers readers(target, bookings, n, pushback);
  while (readers.calls() < 2 * n) absl::SleepFor(absl::Milliseconds(10));
  IngestRun run = MeasureIngest(target, "loaded", first_event, absl::GetFlag(FLAGS_batches),
                                absl::GetFlag(FLAGS_batch_size));
  counts = readers.Stop();
  return run;
}

void PrintIngestFigure(const std::string& who, const IngestRun& idle, const IngestRun& loaded,
                       const Readers::Counts& counts, int64_t rows) {
  Report(who, loaded.latencies);
  std::printf(
      "  readers: %lld calls answered, %lld refused RESOURCE_EXHAUSTED (per-caller bound), "
      "%lld other errors; Ingest refused %d, failed %d %s\n",
      static_cast<long long>(counts.ok), static_cast<long long>(counts.exhausted),
      static_cast<long long>(counts.other), loaded.refused, loaded.failed,
      loaded.first_error.c_str());
  const double idle_p99 = Ms(Quantile(idle.latencies, 0.99));
  const double loaded_p99 = Ms(Quantile(loaded.latencies, 0.99));
  bench::PrintFigure(
      {.name = absl::StrFormat("Ingest p99 %s, %s rows", who, RowsLabel(rows)),
       .ours = absl::StrFormat("%.2f ms (p50 %.2f), %d refused", loaded_p99,
                               Ms(Quantile(loaded.latencies, 0.5)), loaded.refused),
       .yardstick = absl::StrFormat("%.2f ms (Ingest idle, p50 %.2f)", idle_p99,
                                    Ms(Quantile(idle.latencies, 0.5))),
       .ratio = absl::StrFormat("%.2fx", loaded_p99 / std::max(0.001, idle_p99)),
       .target = "none refused, <= 2x idle",
       .met = loaded.refused == 0 && loaded.failed == 0 && loaded_p99 <= 2 * idle_p99});
}

void IngestBesideReaders(const std::string& target, int bookings, int64_t rows) {
  const int batches = absl::GetFlag(FLAGS_batches);
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  const int n = absl::GetFlag(FLAGS_readers);
  const IngestRun idle = MeasureIngest(target, "idle", 1, batches, batch_size);
  std::printf("\nIngest batches of %d events, one at a time:\n", batch_size);
  Report("Ingest idle", idle.latencies);
  Readers::Counts counts;
  const int64_t per_run = static_cast<int64_t>(batches) * batch_size;
  const IngestRun hostile =
      IngestBeside(target, bookings, n, Readers::Pushback::kIgnore, 1 + per_run, counts);
  PrintIngestFigure(absl::StrCat("beside ", n, " readers ignoring pushback"), idle, hostile, counts,
                    rows);
  const IngestRun polite =
      IngestBeside(target, bookings, n, Readers::Pushback::kHonour, 1 + 2 * per_run, counts);
  PrintIngestFigure(absl::StrCat("beside ", n, " readers honouring RetryInfo"), idle, polite,
                    counts, rows);
}

int Main() {
  const int bookings = absl::GetFlag(FLAGS_bookings);
  const int per_booking = absl::GetFlag(FLAGS_per_booking);
  const int64_t rows = static_cast<int64_t>(bookings) * per_booking;
  auto pg = PgCluster::Start();
  if (!pg.ok()) Die(absl::StrCat("PostgreSQL: ", pg.status().ToString()));
  auto set = ServiceSet::Create(**pg, "verify");
  if (!set.ok()) Die(absl::StrCat("stores: ", set.status().ToString()));
  std::printf("history-verify-bench: %d bookings x %d rows = %lld history rows\n", bookings,
              per_booking, static_cast<long long>(rows));
  const absl::Time load_start = absl::Now();
  if (absl::Status s = LoadChainedHistory((*set)->history_url(), bookings, per_booking); !s.ok()) {
    Die(s.ToString());
  }
  std::printf("loaded in %.0f s\n", absl::ToDoubleSeconds(absl::Now() - load_start));
  StartSigned(**set, rows);
  const std::string target = (*set)->history_target();

  VerifyBesideGet(target, bookings, per_booking);
  IngestBesideReaders(target, bookings, rows);
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  booking::ParseFlags(
      argc, argv,
      "history-verify-bench [--bookings N] [--per-booking K] [--readers R] [--calls C] "
      "[--batches B] [--batch-size E]: VerifyHistory of one booking beside GetBookingHistory, and "
      "Ingest idle beside Ingest under R readers, on a store of N x K hash-chained rows");
  return booking::bench::RunBench("history-verify-bench", booking::testing::Main);
}
