#include "bench/history/ingest_runs.h"

#include "absl/strings/str_cat.h"
#include "bench/common/die.h"
#include "common/input_check.h"
#include "common/json_string.h"
#include "common/pg.h"
#include "common/tlog/note_key.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/checkpoint.h"
#include "history-service/checkpointer.h"
#include "history-service/feed_sequencer.h"
#include "history-service/history_store.h"
#include "history-service/log_tree.h"
#include "pqxx/pqxx"
#include "prometheus/registry.h"
#include "tests/support/ingest_client.h"

namespace booking::bench {
namespace {

using testing::EventId;
using testing::StatusEvent;

// The whole event as a JSON object for the plain insert's
// jsonb_to_recordset, written directly as history-service writes its own.
std::string PlainJson(const history::v1::IngestRequest& batch) {
  std::string json = "[";
  for (const history::v1::StatusChangeEvent& e : batch.events()) {
    absl::StatusOr<std::string> metadata = MetadataToJson("metadata", e.metadata());
    if (!metadata.ok()) Die(metadata.status().ToString());
    if (json.size() > 1) json += ',';
    absl::StrAppend(&json, "{\"event_id\":", JsonString(e.event_id()),
                    ",\"booking_id\":", JsonString(e.booking_id()), ",\"sequence\":\"",
                    e.sequence(), "\",\"from_status\":", JsonString(e.from_status()),
                    ",\"to_status\":", JsonString(e.to_status()),
                    ",\"changed_by\":", JsonString(e.changed_by()),
                    ",\"reason\":", JsonString(e.reason()), ",\"change_time\":\"",
                    google::protobuf::util::TimeUtil::ToString(e.change_time()), "\"");
    if (!metadata->empty()) absl::StrAppend(&json, ",\"metadata\":", *metadata);
    json += '}';
  }
  return json + "]";
}

const char* const kPath[] = {"PENDING_PAYMENT", "CONFIRMED", "PICKUP_ASSIGNED", "PICKED_UP",
                             "AT_WORKSHOP"};

}  // namespace

std::vector<history::v1::IngestRequest> IngestBatches(int events, int per_batch,
                                                      const std::string& prefix, int64_t first_id) {
  std::vector<history::v1::IngestRequest> out;
  history::v1::IngestRequest batch;
  for (int i = 0; i < events; ++i) {
    const int s = i % 5 + 1;
    *batch.add_events() = StatusEvent(EventId(first_id + i), absl::StrCat(prefix, i / 5), s,
                                      s == 1 ? "" : kPath[s - 2], kPath[s - 1]);
    if (batch.events_size() == per_batch || i + 1 == events) {
      out.push_back(std::move(batch));
      batch.Clear();
    }
  }
  return out;
}

PgPool::Options BenchPoolOptions(const std::string& url) {
  // As the services' pools (common/service_startup.cc): no parallel workers.
  return {
      .url = url,
      .size = 2,
      .acquire_timeout = absl::Seconds(5),
      .setup = [](pqxx::connection& c) { c.set_variable("max_parallel_workers_per_gather", "0"); },
      .name = "bench"};
}

double ChainedIngest(const std::string& url, const std::vector<history::v1::IngestRequest>& batches,
                     const std::string& key_file, absl::Duration heads_interval) {
  PgPool pool(BenchPoolOptions(url));
  HistoryStore store(pool);
  absl::StatusOr<SigningKey> key = LoadSigningKey(key_file);
  if (!key.ok()) Die(key.status().ToString());
  absl::StatusOr<tlog::NoteSigner> signer =
      tlog::NoteSigner::FromSeed("bench.local/log", key->secret.substr(0, 32));
  if (!signer.ok()) Die(signer.status().ToString());
  prometheus::Registry registry;
  FeedSequencer sequencer({.url = url}, registry);
  Checkpointer checkpointer(pool, {.heads_key = *std::move(key),
                                   .heads_interval = heads_interval,
                                   .log_signer = *std::move(signer),
                                   .log_interval = absl::Seconds(1)});
  auto tree_size = [&pool] {
    absl::StatusOr<TreeHead> head =
        pool.RunInTransaction<TreeHead>([](pqxx::work& txn) { return ReadTreeHead(txn); });
    if (!head.ok()) Die(head.status().ToString());
    return static_cast<int64_t>(head->size);
  };
  const int64_t before = tree_size();  // the store may hold a tree already
  sequencer.Start();
  checkpointer.Start();
  int64_t n = 0;
  const absl::Time start = absl::Now();
  for (const auto& b : batches) {
    absl::StatusOr<StoredBatch> stored = store.StoreBatch(b);
    if (!stored.ok() || stored->ack.stored() != b.events_size()) Die("chained batch not stored");
    n += b.events_size();
  }
  while (tree_size() < before + n) absl::SleepFor(absl::Milliseconds(5));  // all in the tree
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  checkpointer.Stop();
  sequencer.Stop();
  return static_cast<double>(n) / seconds;
}

double PlainInsert(const std::string& url, const std::vector<history::v1::IngestRequest>& batches) {
  PgPool pool(BenchPoolOptions(url));
  int64_t n = 0;
  const absl::Time start = absl::Now();
  for (const auto& b : batches) {
    const std::string json = PlainJson(b);
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
                      json);
      return absl::OkStatus();
    });
    if (!s.ok()) Die(s.ToString());
    n += b.events_size();
  }
  return static_cast<double>(n) / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace booking::bench
