// history-ingest-bench: history ingest events/s with the consistency checks,
// hash chaining and checkpoint signing of issue 9 and the log's Merkle tree
// of issue 22 (until every event is in the tree), against the plain insert
// history did before (each event id once, nothing checked or chained), the
// same batches into stores of the same shape in the same run. Prints
// figures; not a test.
//
// In-process through history-service's own store code (HistoryStore and
// Checkpointer), on a real PostgreSQL 15 started by the test harness.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/common/die.h"
#include "bench/common/figure.h"
#include "bench/history/ingest_runs.h"
#include "common/config.h"
#include "history-service/checkpoint.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"

ABSL_FLAG(int, events, 100000, "events ingested by each side");
ABSL_FLAG(int, batch, 500, "events per batch");

namespace booking::testing {
namespace {

using bench::Die;

int Main(int argc, char** argv) {
  ParseFlags(argc, argv,
             "history-ingest-bench [--events N] [--batch B]: history ingest events/s with checks, "
             "chain and checkpoints against the plain insert of before issue 9");
  auto pg = PgCluster::Start();
  if (!pg.ok()) Die(pg.status().ToString());
  auto chained_set = ServiceSet::Create(**pg, "bench_chained");
  auto plain_set = ServiceSet::Create(**pg, "bench_plain");
  if (!chained_set.ok() || !plain_set.ok()) Die("migrator up failed");
  const std::string key = (*chained_set)->log_dir() + "/checkpoint.key";
  if (absl::Status s = WriteKeyPair(key); !s.ok()) Die(s.ToString());
  const auto batches =
      bench::IngestBatches(absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_batch), "bench-", 1);
  // Plain first, chained second, then each again: the better of two runs.
  double plain = bench::PlainInsert((*plain_set)->history_url(), batches);
  double chained = bench::ChainedIngest((*chained_set)->history_url(), batches, key, {});
  auto again_plain = ServiceSet::Create(**pg, "bench_plain2");
  auto again_chained = ServiceSet::Create(**pg, "bench_chained2");
  if (!again_plain.ok() || !again_chained.ok()) Die("migrator up failed");
  plain = std::max(plain, bench::PlainInsert((*again_plain)->history_url(), batches));
  chained =
      std::max(chained, bench::ChainedIngest((*again_chained)->history_url(), batches, key, {}));
  std::printf(
      "history ingest: %.0f events/s with consistency checks, hash chain, the log's tree and "
      "checkpoints signed every second; %.0f events/s plain insert (before issue 9); ratio %.2f "
      "(%d events, batches of %d)\n",
      chained, plain, chained / plain, absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_batch));
  // Not one of issue 10's targets: the price of issue 9's guarantees, shown
  // so that it is watched.
  bench::PrintFigure(
      {.name = "history ingest events/s, checked, chained, in the log's tree and signed",
       .ours = absl::StrFormat("%.0f events/s", chained),
       .yardstick = absl::StrFormat("%.0f events/s (plain insert)", plain),
       .ratio = absl::StrFormat("%.2fx", chained / plain),
       .target = "- (watched)",
       .met = std::nullopt});
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  return booking::bench::RunBench("history-ingest-bench",
                                  [&] { return booking::testing::Main(argc, argv); });
}
