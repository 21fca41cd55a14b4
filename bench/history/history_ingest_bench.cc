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
#include "common/config.h"
#include "common/pg.h"
#include "common/tlog/note_key.h"
#include "history-service/checkpointer.h"
#include "history-service/feed_sequencer.h"
#include "history-service/history_store.h"
#include "history-service/ingest_encoding.h"
#include "history-service/log_tree.h"
#include "pqxx/pqxx"
#include "prometheus/registry.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"

ABSL_FLAG(int, events, 100000, "events ingested by each side");
ABSL_FLAG(int, batch, 500, "events per batch");

namespace booking::testing {
namespace {

using bench::Die;

const char* const kPath[] = {"PENDING_PAYMENT", "CONFIRMED", "PICKUP_ASSIGNED", "PICKED_UP",
                             "AT_WORKSHOP"};

std::vector<history::v1::IngestRequest> Batches(int events, int per_batch) {
  std::vector<history::v1::IngestRequest> out;
  history::v1::IngestRequest batch;
  for (int i = 0; i < events; ++i) {
    const int s = i % 5 + 1;
    *batch.add_events() = StatusEvent(EventId(i + 1), absl::StrCat("bench-", i / 5), s,
                                      s == 1 ? "" : kPath[s - 2], kPath[s - 1]);
    if (batch.events_size() == per_batch || i + 1 == events) {
      out.push_back(std::move(batch));
      batch.Clear();
    }
  }
  return out;
}

PgPool::Options PoolOptions(const std::string& url) {
  return {.url = url, .size = 2, .acquire_timeout = absl::Seconds(5), .setup = {}, .name = "bench"};
}

// Events/s through HistoryStore::StoreBatch until every event is in the
// log's Merkle tree (the feed's sequencer integrating, history-service's
// own thread), both checkpoints signed every second meanwhile.
double Chained(const std::string& url, const std::vector<history::v1::IngestRequest>& batches,
               const std::string& key_file) {
  PgPool pool(PoolOptions(url));
  HistoryStore store(pool);
  absl::StatusOr<SigningKey> key = LoadSigningKey(key_file);
  if (!key.ok()) Die(key.status().ToString());
  absl::StatusOr<tlog::NoteSigner> signer =
      tlog::NoteSigner::FromSeed("bench.local/log", key->secret.substr(0, 32));
  if (!signer.ok()) Die(signer.status().ToString());
  prometheus::Registry registry;
  FeedSequencer sequencer({.url = url}, registry);
  Checkpointer checkpointer(pool, {.heads_key = *std::move(key),
                                   .heads_interval = absl::Seconds(1),
                                   .log_signer = *std::move(signer),
                                   .log_interval = absl::Seconds(1)});
  sequencer.Start();
  checkpointer.Start();
  int64_t n = 0;
  const absl::Time start = absl::Now();
  for (const auto& b : batches) {
    absl::StatusOr<StoredBatch> stored = store.StoreBatch(b);
    if (!stored.ok() || stored->ack.stored() != b.events_size()) Die("chained batch not stored");
    n += b.events_size();
  }
  for (;;) {  // until the tree holds every event
    absl::StatusOr<TreeHead> head =
        pool.RunInTransaction<TreeHead>([](pqxx::work& txn) { return ReadTreeHead(txn); });
    if (!head.ok()) Die(head.status().ToString());
    if (head->size == static_cast<uint64_t>(n)) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  checkpointer.Stop();
  sequencer.Stop();
  return static_cast<double>(n) / seconds;
}

// Events/s of the insert history made before: one statement per batch,
// ON CONFLICT DO NOTHING, no locks, checks or hashes.
double Plain(const std::string& url, const std::vector<history::v1::IngestRequest>& batches) {
  PgPool pool(PoolOptions(url));
  int64_t n = 0;
  const absl::Time start = absl::Now();
  for (const auto& b : batches) {
    const EncodedEvents encoded = EncodeEvents(b);
    std::vector<int> all(encoded.json.size());
    for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int>(k);
    absl::Status s = pool.RunInTransaction([&](pqxx::work& txn) -> absl::Status {
      txn.exec_params(R"(INSERT INTO "BookingStatusHistory"
           ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason,
            metadata, "createdAt")
         SELECT e.event_id, e.booking_id, e.sequence, NULLIF(e.from_status, ''), e.to_status,
                e.changed_by, NULLIF(e.reason, ''), NULLIF(e.metadata, '{}'::jsonb),
                e.change_time AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb) AS e(
                event_id uuid, booking_id text, sequence bigint, from_status text,
                to_status text, changed_by text, reason text, metadata jsonb,
                change_time timestamptz)
         ON CONFLICT DO NOTHING)",
                      JsonArray(encoded, all));
      return absl::OkStatus();
    });
    if (!s.ok()) Die(s.ToString());
    n += b.events_size();
  }
  return static_cast<double>(n) / absl::ToDoubleSeconds(absl::Now() - start);
}

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
  const auto batches = Batches(absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_batch));
  // Plain first, chained second, then each again: the better of two runs.
  double plain = Plain((*plain_set)->history_url(), batches);
  double chained = Chained((*chained_set)->history_url(), batches, key);
  auto again_plain = ServiceSet::Create(**pg, "bench_plain2");
  auto again_chained = ServiceSet::Create(**pg, "bench_chained2");
  if (!again_plain.ok() || !again_chained.ok()) Die("migrator up failed");
  plain = std::max(plain, Plain((*again_plain)->history_url(), batches));
  chained = std::max(chained, Chained((*again_chained)->history_url(), batches, key));
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
