#include "booking-service/outbox_relay.h"

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"

namespace booking {
namespace {

// Advisory locks of the relay, two-int form (classid, objid): one per
// partition, exclusive; and one shared by every running relay, to count them.
constexpr int kLockClass = 0x62726c79;  // "brly"
constexpr int kMemberKey = 1000;

// A booking's partition; hashtext is the server's, the same for every replica.
constexpr char kPartitionOf[] = R"((hashtext("bookingId") & 15))";
static_assert(kRelayPartitions == 16, "kPartitionOf masks with 15");

class OutboxListener final : public pqxx::notification_receiver {
 public:
  explicit OutboxListener(pqxx::connection& conn)
      : pqxx::notification_receiver(conn, "booking_outbox") {}
  void operator()(const std::string&, int) override {}
};

struct Batch {
  history::v1::IngestRequest request;
  std::vector<int64_t> outbox_ids;  // of the events in `request`
  // Events the relay cannot encode, set aside without being sent.
  std::vector<int64_t> set_aside_ids;
  google::protobuf::RepeatedPtrField<history::v1::RejectedEvent> set_aside;
};

// Up to `limit` events of `partitions`, oldest first, but none of `exclude`
// (sent and awaiting acknowledgement).
Batch ReadBatch(pqxx::connection& conn, const std::vector<int>& partitions,
                const std::vector<int64_t>& exclude, int limit) {
  pqxx::read_transaction txn(conn);
  pqxx::result r = txn.exec_params(
      absl::StrCat(
          R"(SELECT id, "eventId"::text, "bookingId", sequence, COALESCE("fromStatus", ''),
                    "toStatus", "changedBy", COALESCE(reason, ''), COALESCE(metadata::text, ''),
                    (extract(epoch from "createdAt") * 1000000)::bigint
             FROM "BookingOutbox"
             WHERE ($1 = '' OR )",
          kPartitionOf, R"( = ANY(string_to_array($1, ',')::int[]))
               AND ($3 = '' OR id <> ALL(string_to_array($3, ',')::bigint[]))
             ORDER BY id LIMIT $2)"),
      // Owning every partition, no filter is needed.
      static_cast<int>(partitions.size()) == kRelayPartitions ? "" : absl::StrJoin(partitions, ","),
      limit, absl::StrJoin(exclude, ","));
  Batch batch;
  for (const pqxx::row& row : r) {
    history::v1::StatusChangeEvent e;
    e.set_event_id(row[1].as<std::string>());
    e.set_booking_id(row[2].as<std::string>());
    e.set_sequence(row[3].as<int64_t>());
    e.set_from_status(row[4].as<std::string>());
    e.set_to_status(row[5].as<std::string>());
    e.set_changed_by(row[6].as<std::string>());
    e.set_reason(row[7].as<std::string>());
    *e.mutable_change_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
    const std::string metadata = row[8].as<std::string>();
    // The service writes metadata from a Struct, so it parses back; a row
    // that does not (written by hand, say) would lose its metadata if sent.
    if (!metadata.empty() &&
        !google::protobuf::util::JsonStringToMessage(metadata, e.mutable_metadata()).ok()) {
      batch.set_aside_ids.push_back(row[0].as<int64_t>());
      history::v1::RejectedEvent* rejected = batch.set_aside.Add();
      rejected->set_event_id(e.event_id());
      rejected->set_reason("metadata is not a JSON object (set aside by the relay)");
      continue;
    }
    batch.outbox_ids.push_back(row[0].as<int64_t>());
    *batch.request.add_events() = std::move(e);
  }
  return batch;
}

// Acknowledged events leave the outbox; rejected ones are set aside with the
// reason, in the same transaction.
void Settle(pqxx::connection& conn, const std::vector<int64_t>& outbox_ids,
            const google::protobuf::RepeatedPtrField<history::v1::RejectedEvent>& rejected) {
  pqxx::work txn(conn);
  for (const history::v1::RejectedEvent& r : rejected) {
    txn.exec_params(
        R"(INSERT INTO "BookingOutboxRejected"
             (id, "eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy",
              reason, metadata, "createdAt", "rejectReason")
           SELECT id, "eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy",
                  reason, metadata, "createdAt", $2
           FROM "BookingOutbox" WHERE "eventId" = $1::uuid
           ON CONFLICT DO NOTHING)",
        r.event_id(), r.reason());
  }
  txn.exec_params(
      R"(DELETE FROM "BookingOutbox" WHERE id = ANY(string_to_array($1, ',')::bigint[]))",
      absl::StrJoin(outbox_ids, ","));
  txn.commit();
}

using IngestStream = grpc::ClientReaderWriter<history::v1::IngestRequest, history::v1::IngestAck>;

}  // namespace

OutboxRelay::OutboxRelay(RelayOptions options, prometheus::Registry& metrics)
    : options_(std::move(options)),
      sent_(prometheus::BuildCounter()
                .Name("relay_events_sent_total")
                .Help("outbox events sent to history-service (resends included)")
                .Register(metrics)
                .Add({})),
      acked_(prometheus::BuildCounter()
                 .Name("relay_events_acked_total")
                 .Help("outbox events acknowledged by history-service and removed")
                 .Register(metrics)
                 .Add({})),
      rejected_(prometheus::BuildCounter()
                    .Name("relay_events_rejected_total")
                    .Help("outbox events rejected as malformed and set aside in "
                          "\"BookingOutboxRejected\"")
                    .Register(metrics)
                    .Add({})),
      reconnects_(prometheus::BuildCounter()
                      .Name("relay_reconnects_total")
                      .Help("relay sessions that ended in an error and were retried")
                      .Register(metrics)
                      .Add({})),
      backlog_(prometheus::BuildGauge()
                   .Name("relay_outbox_backlog")
                   .Help("events in the outbox not yet acknowledged (all partitions)")
                   .Register(metrics)
                   .Add({})),
      oldest_age_(prometheus::BuildGauge()
                      .Name("relay_outbox_oldest_age_seconds")
                      .Help("age of the oldest event in the outbox; 0 when empty")
                      .Register(metrics)
                      .Add({})),
      partitions_owned_(prometheus::BuildGauge()
                            .Name("relay_partitions_owned")
                            .Help("outbox partitions this replica relays")
                            .Register(metrics)
                            .Add({})) {}

OutboxRelay::~OutboxRelay() { Stop(absl::ZeroDuration()); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
  gauge_thread_ = std::thread([this] { GaugeLoop(); });
}

void OutboxRelay::GaugeLoop() {
  std::unique_ptr<pqxx::connection> conn;
  do {
    try {
      if (conn == nullptr) {
        auto opened = Connect(options_.database_url, [this](pqxx::connection& c) {
          UseStoreSchema(c, "Booking", options_.database_schema);
          c.set_variable("statement_timeout", "5000");
        });
        if (!opened.ok()) continue;  // the session logs the outage
        conn = *std::move(opened);
      }
      RefreshGauges(*conn);
    } catch (const std::exception&) {
      conn.reset();
    }
  } while (SleepFor(options_.idle_wait));
}

void OutboxRelay::Stop(absl::Duration grace) {
  if (!thread_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  if (!cv_.wait_for(lock, absl::ToChronoMilliseconds(grace), [&] { return exited_; })) {
    if (stream_context_ != nullptr) stream_context_->TryCancel();
  }
  lock.unlock();
  thread_.join();
  if (gauge_thread_.joinable()) gauge_thread_.join();
}

bool OutboxRelay::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool OutboxRelay::SleepFor(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [&] { return stopping_; });
}

void OutboxRelay::Run() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.min_backoff;
  while (!Stopping()) {
    const absl::Time started = absl::Now();
    absl::Status status = Session();
    if (Stopping()) break;
    // A session that ran a while was healthy: start backing off afresh.
    if (absl::Now() - started > options_.max_backoff) backoff = options_.min_backoff;
    reconnects_.Increment();
    const absl::Duration jittered = backoff * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    LogWarning("relay session ended; reconnecting",
               {{"error", status.ToString()}, {"retry_in", absl::FormatDuration(jittered)}});
    if (!SleepFor(jittered)) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  std::lock_guard<std::mutex> lock(mu_);
  exited_ = true;
  cv_.notify_all();
}

void OutboxRelay::Rebalance(pqxx::connection& db, std::vector<int>& owned) {
  pqxx::nontransaction txn(db);
  const int64_t members = std::max<int64_t>(1, txn.exec_params(R"(SELECT count(*) FROM pg_locks
                             WHERE locktype = 'advisory' AND granted AND objsubid = 2
                               AND classid = $1::oid AND objid = $2::oid
                               AND database = (SELECT oid FROM pg_database
                                               WHERE datname = current_database()))",
                                                               kLockClass, kMemberKey)[0][0]
                                                   .as<int64_t>());
  const size_t share = static_cast<size_t>((kRelayPartitions + members - 1) / members);
  std::vector<int> released;
  while (owned.size() > share) {
    released.push_back(owned.back());
    owned.pop_back();
  }
  if (!released.empty()) {
    txn.exec_params(
        R"(SELECT pg_advisory_unlock($1, p) FROM unnest(string_to_array($2, ',')::int[]) AS p)",
        kLockClass, absl::StrJoin(released, ","));
  }
  std::vector<int> taken;
  if (owned.size() < share) {
    // Free partitions are tried from a random start so that replicas
    // starting together do not all go for the same ones.
    static thread_local std::mt19937 rng(std::random_device{}());
    const int start = std::uniform_int_distribution<int>(0, kRelayPartitions - 1)(rng);
    std::vector<int> candidates;
    for (int i = 0; i < kRelayPartitions; ++i) {
      const int p = (start + i) % kRelayPartitions;
      if (std::find(owned.begin(), owned.end(), p) == owned.end()) candidates.push_back(p);
    }
    // unnest yields in order and LIMIT stops the scan: no more locks are
    // taken than needed.
    pqxx::result r = txn.exec_params(
        R"(SELECT p FROM unnest(string_to_array($2, ',')::int[]) AS p
           WHERE pg_try_advisory_lock($1, p) LIMIT $3)",
        kLockClass, absl::StrJoin(candidates, ","), static_cast<int>(share - owned.size()));
    for (const pqxx::row& row : r) taken.push_back(row[0].as<int>());
    owned.insert(owned.end(), taken.begin(), taken.end());
    std::sort(owned.begin(), owned.end());
  }
  partitions_owned_.Set(static_cast<double>(owned.size()));
  if (!released.empty() || !taken.empty()) {
    LogInfo(taken.empty() ? "relay partitions handed over" : "relay partitions taken over",
            {{"taken", absl::StrJoin(taken, ",")},
             {"released", absl::StrJoin(released, ",")},
             {"owned", absl::StrJoin(owned, ",")},
             {"relays", absl::StrCat(members)}});
  }
}

void OutboxRelay::RefreshGauges(pqxx::connection& db) {
  pqxx::nontransaction txn(db);
  pqxx::result r = txn.exec(
      R"(SELECT count(*),
                COALESCE(extract(epoch from timezone('UTC', now()) - min("createdAt")), 0)::float8
         FROM "BookingOutbox")");
  backlog_.Set(r[0][0].as<double>());
  oldest_age_.Set(std::max(0.0, r[0][1].as<double>()));
}

void OutboxRelay::WaitForEvents(pqxx::connection& db, absl::Duration d) {
  // Short socket waits so that Stop is seen quickly; no query is sent while
  // nothing is notified.
  const absl::Time until = absl::Now() + d;
  while (!Stopping() && absl::Now() < until) {
    const absl::Duration step = std::min(until - absl::Now(), absl::Milliseconds(200));
    if (db.await_notification(0, std::max<int64_t>(1, absl::ToInt64Microseconds(step))) > 0) {
      return;
    }
  }
}

absl::Status OutboxRelay::Session() {
  auto conn = Connect(options_.database_url, [this](pqxx::connection& c) {
    UseStoreSchema(c, "Booking", options_.database_schema);
    c.set_variable("statement_timeout", "30000");
  });
  if (!conn.ok()) return conn.status();
  pqxx::connection& db = **conn;
  std::vector<int> owned;  // partitions held; the locks go with the connection

  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<history::v1::HistoryService::Stub> stub;
  std::unique_ptr<IngestStream> stream;
  // However the session ends: no context left for Stop to cancel, a stream
  // still open is cancelled and finished, and nothing is owned any more.
  struct Cleanup {
    OutboxRelay* relay;
    std::unique_ptr<grpc::ClientContext>& context;
    std::unique_ptr<IngestStream>& stream;
    ~Cleanup() {
      {
        std::lock_guard<std::mutex> lock(relay->mu_);
        relay->stream_context_ = nullptr;
      }
      if (stream != nullptr) {
        context->TryCancel();
        (void)stream->Finish();
      }
      relay->partitions_owned_.Set(0);
    }
  } cleanup{this, context, stream};

  try {
    {
      pqxx::nontransaction txn(db);
      txn.exec_params("SELECT pg_advisory_lock_shared($1, $2)", kLockClass, kMemberKey);
    }
    OutboxListener listener(db);
    LogInfo("relay connected to the booking store", {{"history_target", options_.history_target}});

    uint64_t batch_id = 0;
    absl::Time next_maintenance = absl::InfinitePast();
    absl::Duration stream_backoff = options_.min_backoff;
    absl::Time stream_retry_at = absl::InfinitePast();
    std::mt19937_64 rng(std::random_device{}());
    // Sent and not yet acknowledged, oldest first. history-service stores a
    // stream's batches one after the other, so a booking's later events
    // (in a later batch) never overtake its earlier ones.
    std::deque<Batch> in_flight;
    auto in_flight_ids = [&] {
      std::vector<int64_t> ids;
      for (const Batch& b : in_flight) {
        ids.insert(ids.end(), b.outbox_ids.begin(), b.outbox_ids.end());
      }
      return ids;
    };

    while (true) {
      const bool stopping = Stopping();
      if (stopping && in_flight.empty()) break;
      // Partitions change hands only while nothing of ours is in flight.
      if (!stopping && in_flight.empty() && absl::Now() >= next_maintenance) {
        Rebalance(db, owned);
        next_maintenance = absl::Now() + options_.idle_wait;
      }
      if (in_flight.empty() && owned.empty()) {
        WaitForEvents(db, next_maintenance - absl::Now());
        continue;
      }
      if (stream == nullptr && absl::Now() < stream_retry_at) {
        // Backing off from history-service; the partitions stay ours (the
        // other replicas could not reach it either).
        if (!SleepFor(std::min(stream_retry_at, next_maintenance) - absl::Now())) break;
        continue;
      }

      // Another batch goes out while fewer than pipeline_depth are
      // unacknowledged; not when a rebalance is due, which waits for the
      // pipeline to empty (a partition is handed over with nothing in flight).
      bool sent = false;
      if (!stopping && absl::Now() < next_maintenance &&
          static_cast<int>(in_flight.size()) < options_.pipeline_depth) {
        Batch batch = ReadBatch(db, owned, in_flight_ids(), options_.batch_size);
        if (!batch.set_aside.empty()) {
          Settle(db, batch.set_aside_ids, batch.set_aside);
          rejected_.Increment(static_cast<double>(batch.set_aside.size()));
          for (const auto& r : batch.set_aside) {
            LogError("outbox event set aside in \"BookingOutboxRejected\"",
                     {{"event_id", r.event_id()}, {"reason", r.reason()}});
          }
        }
        if (!batch.outbox_ids.empty()) {
          if (stream == nullptr) {
            grpc::ChannelArguments args;
            // A history-service that stops answering is noticed within ~30 s.
            args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
            args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
            stub = history::v1::HistoryService::NewStub(grpc::CreateCustomChannel(
                options_.history_target, grpc::InsecureChannelCredentials(), args));
            context = std::make_unique<grpc::ClientContext>();
            {
              std::lock_guard<std::mutex> lock(mu_);
              if (stopping_) break;
              stream_context_ = context.get();
            }
            stream = stub->Ingest(context.get());
          }
          batch.request.set_batch_id(++batch_id);
          sent_.Increment(static_cast<double>(batch.outbox_ids.size()));
          // A failed write shows as a failed read below.
          sent = stream->Write(batch.request);
          in_flight.push_back(std::move(batch));
        } else if (batch.set_aside.empty() && in_flight.empty()) {
          WaitForEvents(db, next_maintenance - absl::Now());
          continue;
        }
      }
      // An acknowledgement is awaited once the pipeline is full, or when
      // nothing more was sent.
      if (in_flight.empty() ||
          (sent && static_cast<int>(in_flight.size()) < options_.pipeline_depth)) {
        continue;
      }
      history::v1::IngestAck ack;
      if (!stream->Read(&ack)) {
        grpc::Status s = stream->Finish();
        stream.reset();
        {
          std::lock_guard<std::mutex> lock(mu_);
          stream_context_ = nullptr;
        }
        context.reset();
        in_flight.clear();  // unacknowledged: they stay in the outbox
        reconnects_.Increment();
        const absl::Duration jittered =
            stream_backoff * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
        LogWarning(
            "history stream ended; reopening it",
            {{"history_target", options_.history_target},
             {"error",
              absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
                           ": ", s.error_message())},
             {"retry_in", absl::FormatDuration(jittered)}});
        stream_retry_at = absl::Now() + jittered;
        stream_backoff = std::min(stream_backoff * 2, options_.max_backoff);
        continue;
      }
      stream_backoff = options_.min_backoff;
      const Batch& acked = in_flight.front();
      if (ack.batch_id() != acked.request.batch_id()) {
        return absl::InternalError(absl::StrCat("acknowledgement for batch ", ack.batch_id(),
                                                " while waiting for ", acked.request.batch_id()));
      }
      Settle(db, acked.outbox_ids, ack.rejected());
      acked_.Increment(static_cast<double>(acked.outbox_ids.size() - ack.rejected_size()));
      rejected_.Increment(ack.rejected_size());
      for (const auto& r : ack.rejected()) {
        LogError("history rejected an event; set aside in \"BookingOutboxRejected\"",
                 {{"event_id", r.event_id()}, {"reason", r.reason()}});
      }
      in_flight.pop_front();
    }
    if (stream != nullptr) {
      stream->WritesDone();
      (void)stream->Finish();
      stream.reset();
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking
