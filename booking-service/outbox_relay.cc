#include "booking-service/outbox_relay.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/pg.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"

namespace booking {
namespace {

// Session advisory lock held by the replica that relays.
constexpr int64_t kRelayLockKey = 0x626f6f6b696e67;  // "booking"

class OutboxListener final : public pqxx::notification_receiver {
 public:
  explicit OutboxListener(pqxx::connection& conn)
      : pqxx::notification_receiver(conn, "booking_outbox") {}
  void operator()(const std::string&, int) override {}
};

struct Batch {
  history::v1::IngestRequest request;
  std::vector<int64_t> outbox_ids;
};

Batch ReadBatch(pqxx::connection& conn, int limit) {
  pqxx::read_transaction txn(conn);
  pqxx::result r = txn.exec_params(
      R"(SELECT id, "eventId"::text, "bookingId", sequence, COALESCE("fromStatus", ''), "toStatus",
                "changedBy", COALESCE(reason, ''), COALESCE(metadata::text, ''),
                (extract(epoch from "createdAt") * 1000000)::bigint
         FROM "BookingOutbox" ORDER BY id LIMIT $1)",
      limit);
  Batch batch;
  for (const pqxx::row& row : r) {
    batch.outbox_ids.push_back(row[0].as<int64_t>());
    history::v1::StatusChangeEvent* e = batch.request.add_events();
    e->set_event_id(row[1].as<std::string>());
    e->set_booking_id(row[2].as<std::string>());
    e->set_sequence(row[3].as<int64_t>());
    e->set_from_status(row[4].as<std::string>());
    e->set_to_status(row[5].as<std::string>());
    e->set_changed_by(row[6].as<std::string>());
    e->set_reason(row[7].as<std::string>());
    const std::string metadata = row[8].as<std::string>();
    // Written by the service from a Struct; history-service rejects the
    // event if it somehow does not parse back.
    if (!metadata.empty()) {
      (void)google::protobuf::util::JsonStringToMessage(metadata, e->mutable_metadata());
    }
    *e->mutable_change_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
  }
  return batch;
}

// Acknowledged events leave the outbox; rejected ones are set aside with the
// reason, in the same transaction.
void Settle(pqxx::connection& conn, const Batch& batch, const history::v1::IngestAck& ack) {
  pqxx::work txn(conn);
  for (const history::v1::RejectedEvent& r : ack.rejected()) {
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
      absl::StrJoin(batch.outbox_ids, ","));
  txn.commit();
}

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
                    .Help("outbox events history-service rejected as malformed (set aside)")
                    .Register(metrics)
                    .Add({})),
      reconnects_(prometheus::BuildCounter()
                      .Name("relay_reconnects_total")
                      .Help("relay sessions that ended in an error and were retried")
                      .Register(metrics)
                      .Add({})) {}

OutboxRelay::~OutboxRelay() { Stop(absl::ZeroDuration()); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
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

absl::Status OutboxRelay::Session() {
  auto conn = Connect(options_.database_url);
  if (!conn.ok()) return conn.status();
  try {
    pqxx::connection& db = **conn;
    // Stand by until this replica is the one that relays.
    while (true) {
      pqxx::nontransaction txn(db);
      if (txn.exec_params("SELECT pg_try_advisory_lock($1)", kRelayLockKey)[0][0].as<bool>()) break;
      txn.commit();
      if (!SleepFor(options_.idle_wait)) return absl::OkStatus();
    }
    LogInfo("relaying outbox", {{"history_target", options_.history_target}});
    OutboxListener listener(db);

    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    auto channel = grpc::CreateCustomChannel(options_.history_target,
                                             grpc::InsecureChannelCredentials(), args);
    auto stub = history::v1::HistoryService::NewStub(channel);
    grpc::ClientContext context;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::OkStatus();
      stream_context_ = &context;
    }
    struct ClearContext {
      OutboxRelay* relay;
      ~ClearContext() {
        std::lock_guard<std::mutex> lock(relay->mu_);
        relay->stream_context_ = nullptr;
      }
    } clear_context{this};
    auto stream = stub->Ingest(&context);

    uint64_t batch_id = 0;
    while (!Stopping()) {
      Batch batch = ReadBatch(db, options_.batch_size);
      if (batch.outbox_ids.empty()) {
        db.await_notification(absl::ToInt64Seconds(options_.idle_wait), 0);
        continue;
      }
      batch.request.set_batch_id(++batch_id);
      sent_.Increment(batch.outbox_ids.size());
      history::v1::IngestAck ack;
      if (!stream->Write(batch.request) || !stream->Read(&ack)) {
        grpc::Status s = stream->Finish();
        return absl::UnavailableError(absl::StrCat(
            "history stream to ", options_.history_target,
            " broke: ", s.error_message().empty() ? "connection lost" : s.error_message()));
      }
      if (ack.batch_id() != batch.request.batch_id()) {
        return absl::InternalError(absl::StrCat("acknowledgement for batch ", ack.batch_id(),
                                                " while waiting for ", batch.request.batch_id()));
      }
      Settle(db, batch, ack);
      acked_.Increment(batch.outbox_ids.size() - ack.rejected_size());
      rejected_.Increment(ack.rejected_size());
      for (const auto& r : ack.rejected()) {
        LogError("history rejected an event; set aside in \"BookingOutboxRejected\"",
                 {{"event_id", r.event_id()}, {"reason", r.reason()}});
      }
    }
    stream->WritesDone();
    stream->Finish();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace booking
