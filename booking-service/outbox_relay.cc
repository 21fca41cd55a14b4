#include "booking-service/outbox_relay.h"

#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "booking-service/relay_partitions.h"
#include "booking-service/relay_stream.h"
#include "common/log.h"
#include "common/pg.h"

namespace booking {
namespace {

prometheus::Counter& NewCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& NewGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

// The message limit holds a full batch with room to spare.
RelayOptions Validated(RelayOptions options) {
  options.max_batch_bytes = std::max(options.max_batch_bytes, 1024);
  const int64_t needed = int64_t{options.max_batch_bytes} + kMessageHeadroomBytes;
  if (options.max_message_bytes < needed) {
    LogWarning("relay max_message_bytes raised to hold a full batch",
               {{"max_message_bytes", absl::StrCat(options.max_message_bytes)},
                {"max_batch_bytes", absl::StrCat(options.max_batch_bytes)},
                {"now", absl::StrCat(needed)}});
    options.max_message_bytes = static_cast<int>(std::min<int64_t>(needed, INT32_MAX));
  }
  options.pipeline_depth = std::max(options.pipeline_depth, 1);
  options.batch_size = std::max(options.batch_size, 1);
  options.streams = std::clamp(options.streams, 1, kMaxRelayStreams);
  return options;
}

}  // namespace

// What one session works with: its booking-store connection, the partitions
// it holds on it, and its stream to history-service.
struct OutboxRelay::Session {
  int lane;
  Backoff& stream_backoff;  // the lane's, across its sessions
  pqxx::connection& db;
  PartitionOwnership& partitions;
  OutboxListener& listener;
  IngestPipeline& pipeline;
  absl::Time next_rebalance = absl::InfinitePast();
  // Acknowledged (nothing rejected) and not deleted yet: deleted with the
  // next read, in its message, or by FlushAcked before the relay waits,
  // rebalances or ends. Lost with the session, they are sent again and
  // history-service finds them stored.
  std::vector<int64_t> acked_ids = {};
  // Whether a read may find events: a NOTIFY since the last read, the last
  // read stopped at a limit, or a wait ended (a held-back event's
  // "retryAfter" passes without a NOTIFY). Under a trickle no read comes
  // back empty while a batch is in flight.
  bool read_due = true;
};

OutboxRelay::OutboxRelay(RelayOptions options, prometheus::Registry& metrics)
    : options_(Validated(std::move(options))),
      channel_(HistoryChannel(options_)),
      sent_(NewCounter(metrics, "relay_events_sent_total",
                       "outbox events sent to history-service (resends included)")),
      acked_(NewCounter(metrics, "relay_events_acked_total",
                        "outbox events acknowledged by history-service and removed")),
      rejected_(NewCounter(metrics, "relay_events_rejected_total",
                           "outbox events rejected as malformed and set aside in "
                           "\"BookingOutboxRejected\"")),
      reconnects_(NewCounter(metrics, "relay_reconnects_total",
                             "relay sessions and history streams that ended and were reopened")),
      backlog_(NewGauge(metrics, "relay_outbox_backlog",
                        "events in the outbox not yet acknowledged (all partitions)")),
      oldest_age_(NewGauge(metrics, "relay_outbox_oldest_age_seconds",
                           "age of the oldest event in the outbox; 0 when empty")),
      partitions_owned_(NewGauge(metrics, "relay_partitions_owned",
                                 "outbox partitions this replica relays (all its streams)")),
      owned_(static_cast<size_t>(options_.streams)) {}

OutboxRelay::~OutboxRelay() { Stop(absl::ZeroDuration()); }

void OutboxRelay::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = options_.streams + 1;
  }
  for (int lane = 0; lane < options_.streams; ++lane) {
    lanes_.emplace_back([this, lane] { Run(lane); });
  }
  gauge_thread_ = std::thread([this] { GaugeLoop(); });
}

void OutboxRelay::Stop(absl::Duration grace) {
  if (!gauge_thread_.joinable()) return;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (!WaitExited(grace)) {
    LogWarning("relay stop: grace over; cancelling the history stream and statements in progress",
               {{"grace", absl::FormatDuration(grace)}});
    // Again until both threads are out: a statement may start after a cancel.
    do {
      interrupts_.InterruptAll();
    } while (!WaitExited(absl::Milliseconds(50)));
  }
  for (std::thread& lane : lanes_) lane.join();
  lanes_.clear();
  gauge_thread_.join();
}

std::vector<int> OutboxRelay::OwnedPartitions() const {
  std::vector<int> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::vector<int>& lane : owned_) all.insert(all.end(), lane.begin(), lane.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

void OutboxRelay::SetOwned(int lane, std::vector<int> owned) {
  std::lock_guard<std::mutex> lock(mu_);
  owned_[static_cast<size_t>(lane)] = std::move(owned);
  size_t count = 0;
  for (const std::vector<int>& l : owned_) count += l.size();
  partitions_owned_.Set(static_cast<double>(count));
}

void OutboxRelay::ThreadExited() {
  std::lock_guard<std::mutex> lock(mu_);
  --running_;
  exited_.notify_all();
}

bool OutboxRelay::WaitExited(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return exited_.wait_for(lock, absl::ToChronoMilliseconds(std::max(d, absl::ZeroDuration())),
                          [&] { return running_ == 0; });
}

void OutboxRelay::GaugeLoop() {
  std::unique_ptr<pqxx::connection> conn;
  std::optional<RelayInterrupts::Guard> guard;  // released before conn closes
  do {
    try {
      if (conn == nullptr) {
        auto opened = OpenOutbox(options_.database_url, options_.database_schema, 5000);
        if (!opened.ok()) continue;  // the session logs the outage
        conn = *std::move(opened);
        guard.emplace(interrupts_, conn.get());
      }
      const absl::StatusOr<Backlog> backlog = ReadBacklog(*conn);
      if (!backlog.ok()) {
        guard.reset();
        conn.reset();
        continue;
      }
      backlog_.Set(backlog->events);
      oldest_age_.Set(backlog->oldest_age_seconds);
    } catch (const std::exception&) {  // opening the connection
      guard.reset();
      conn.reset();
    }
  } while (!stop_.WaitForNotificationWithTimeout(options_.idle_wait));
  guard.reset();
  ThreadExited();
}

void OutboxRelay::Run(int lane) {
  Backoff backoff(options_.min_backoff, options_.max_backoff);
  Backoff stream_backoff(options_.min_backoff, options_.max_backoff);
  while (!stop_.HasBeenNotified()) {
    const absl::Time started = absl::Now();
    const absl::Status status = RunSession(lane, stream_backoff);
    if (stop_.HasBeenNotified()) break;
    // A session that ran a while was healthy: start backing off afresh.
    if (absl::Now() - started > options_.max_backoff) backoff.Reset();
    reconnects_.Increment();
    const absl::Duration pause = backoff.Next();
    LogWarning("relay session ended; reconnecting", {{"error", status.ToString()},
                                                     {"stream", absl::StrCat(lane)},
                                                     {"retry_in", absl::FormatDuration(pause)}});
    if (!Backoff::Sleep(pause, &stop_)) break;
  }
  ThreadExited();
}

absl::Status OutboxRelay::RunSession(int lane, Backoff& stream_backoff) {
  // However the session ends, nothing is owned any more: reported after the
  // connection, and with it every lock, is gone (declared first, ends last).
  absl::Cleanup disown = [this, lane] { SetOwned(lane, {}); };
  auto conn = OpenOutbox(options_.database_url, options_.database_schema, 30000);
  if (!conn.ok()) return conn.status();
  pqxx::connection& db = **conn;
  RelayInterrupts::Guard db_guard(interrupts_, &db);
  try {
    PartitionOwnership partitions(db);
    OutboxListener listener(db);
    IngestPipeline pipeline(channel_, interrupts_);
    LogInfo("relay connected to the booking store",
            {{"history_target", options_.history_target}, {"stream", absl::StrCat(lane)}});
    Session session{lane, stream_backoff, db, partitions, listener, pipeline};
    return Pump(session);
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::Status OutboxRelay::Pump(Session& s) {
  while (true) {
    const bool stopping = stop_.HasBeenNotified();
    if (stopping && s.pipeline.in_flight() == 0) break;
    // Partitions change hands only while nothing of ours is in flight.
    if (!stopping && s.pipeline.in_flight() == 0 && absl::Now() >= s.next_rebalance) {
      if (absl::Status flushed = FlushAcked(s); !flushed.ok()) return flushed;
      Rebalance(s);
      s.next_rebalance = absl::Now() + options_.idle_wait;
    }
    if (s.pipeline.in_flight() == 0 && s.partitions.owned().empty()) {
      WaitForEvents(s.db, s.next_rebalance - absl::Now());
      s.read_due = true;
      continue;
    }
    // Another batch goes out while fewer than pipeline_depth are
    // unacknowledged; not when a rebalance is due, which waits for the
    // pipeline to empty (a partition is handed over with nothing in flight).
    const int before = s.pipeline.in_flight();
    if (!stopping && absl::Now() < s.next_rebalance && before < options_.pipeline_depth) {
      absl::StatusOr<bool> sent = ReadDue(s) ? SendNext(s) : false;
      if (!sent.ok()) return sent.status();
      if (!*sent && before == 0) {
        if (absl::Status flushed = FlushAcked(s); !flushed.ok()) return flushed;
        WaitForEvents(s.db, s.next_rebalance - absl::Now());
        s.read_due = true;
        continue;
      }
    }
    // An acknowledgement is awaited once the pipeline is full, or when
    // nothing more was sent.
    const bool sent = s.pipeline.in_flight() > before;
    if (s.pipeline.in_flight() == 0 || (sent && s.pipeline.in_flight() < options_.pipeline_depth)) {
      continue;
    }
    if (absl::Status settled = SettleNextAck(s); !settled.ok()) return settled;
  }
  if (absl::Status flushed = FlushAcked(s); !flushed.ok()) return flushed;
  s.pipeline.Close();
  return absl::OkStatus();
}

bool OutboxRelay::ReadDue(Session& s) {
  // Takes what notifications have arrived, without waiting.
  s.db.get_notifs();
  if (s.listener.TakeNotified()) s.read_due = true;
  return s.read_due;
}

absl::Status OutboxRelay::FlushAcked(Session& s) {
  if (s.acked_ids.empty()) return absl::OkStatus();
  absl::Status settled = Settle(s.db, s.acked_ids, {});
  if (settled.ok()) s.acked_ids.clear();
  return settled;
}

absl::StatusOr<bool> OutboxRelay::SendNext(Session& s) {
  // Cleared before the read: a NOTIFY arriving meanwhile makes another due.
  s.read_due = false;
  s.listener.TakeNotified();
  absl::StatusOr<Batch> read = ReadBatch(
      s.db, s.partitions.owned(), s.pipeline.InFlightIds(),
      {.max_events = options_.batch_size, .max_bytes = options_.max_batch_bytes}, s.acked_ids);
  if (!read.ok()) return read.status();
  s.acked_ids.clear();
  Batch& batch = *read;
  s.read_due = batch.more;
  if (!batch.set_aside.empty()) {
    if (absl::Status settled = Settle(s.db, batch.set_aside_ids, batch.set_aside); !settled.ok()) {
      return settled;
    }
    rejected_.Increment(static_cast<double>(batch.set_aside.size()));
    for (const auto& r : batch.set_aside) {
      LogError("outbox event set aside in \"BookingOutboxRejected\"",
               {{"event_id", r.event_id()}, {"reason", r.reason()}});
    }
  }
  if (batch.outbox_ids.empty()) return !batch.set_aside.empty();
  sent_.Increment(static_cast<double>(batch.outbox_ids.size()));
  s.pipeline.Send(std::move(batch));
  return true;
}

absl::Status OutboxRelay::SettleNextAck(Session& s) {
  absl::StatusOr<IngestPipeline::Acked> acked = s.pipeline.AwaitAck();
  if (!acked.ok()) {
    AfterStreamEnd(s, acked.status());
    return absl::OkStatus();
  }
  s.stream_backoff.Reset();
  const history::v1::IngestAck& ack = acked->ack;
  if (ack.rejected().empty()) {
    // Deleted with the next read (one round trip for both).
    s.acked_ids.insert(s.acked_ids.end(), acked->batch.outbox_ids.begin(),
                       acked->batch.outbox_ids.end());
  } else if (absl::Status settled = Settle(s.db, acked->batch.outbox_ids, ack.rejected());
             !settled.ok()) {
    return settled;
  }
  acked_.Increment(static_cast<double>(acked->batch.outbox_ids.size() - ack.rejected_size()));
  for (const auto& r : ack.rejected()) {
    // A gap waits in the outbox and is sent again later (relay_outbox.h).
    if (r.disposition() == history::v1::GAP) {
      LogWarning("history holds an event back until the events before it arrive; sent again later",
                 {{"event_id", r.event_id()}, {"reason", r.reason()}});
      continue;
    }
    rejected_.Increment();
    LogError("history rejected an event; set aside in \"BookingOutboxRejected\"",
             {{"event_id", r.event_id()}, {"reason", r.reason()}});
  }
  return absl::OkStatus();
}

void OutboxRelay::AfterStreamEnd(Session& s, const absl::Status& why) {
  if (stop_.HasBeenNotified()) return;  // cancelled by Stop
  reconnects_.Increment();
  if (s.pipeline.ended_after_ack() && absl::IsUnavailable(why)) {
    // The server closed a working stream (GOAWAY at its connection's max
    // age or idle time, a restart): routine, reopened at once.
    s.stream_backoff.Reset();
    LogInfo("history stream closed by the server; reopening it",
            {{"history_target", options_.history_target},
             {"stream", absl::StrCat(s.lane)},
             {"reason", why.ToString()}});
    return;
  }
  const absl::Duration pause = s.stream_backoff.Next();
  LogWarning("history stream ended; reopening it", {{"history_target", options_.history_target},
                                                    {"stream", absl::StrCat(s.lane)},
                                                    {"error", why.ToString()},
                                                    {"retry_in", absl::FormatDuration(pause)}});
  // The partitions stay ours meanwhile (the other replicas could not reach
  // history-service either).
  Backoff::Sleep(pause, &stop_);
}

void OutboxRelay::Rebalance(Session& s) {
  const PartitionOwnership::Change change = s.partitions.Rebalance();
  SetOwned(s.lane, s.partitions.owned());
  if (change.taken.empty() && change.released.empty()) return;
  LogInfo(change.taken.empty() ? "relay partitions handed over" : "relay partitions taken over",
          {{"taken", absl::StrJoin(change.taken, ",")},
           {"released", absl::StrJoin(change.released, ",")},
           {"owned", absl::StrJoin(s.partitions.owned(), ",")},
           {"stream", absl::StrCat(s.lane)},
           {"relays", absl::StrCat(change.relays)}});
}

void OutboxRelay::WaitForEvents(pqxx::connection& db, absl::Duration d) {
  // Short socket waits so that Stop is seen quickly; no query is sent while
  // nothing is notified.
  const absl::Time until = absl::Now() + d;
  while (!stop_.HasBeenNotified() && absl::Now() < until) {
    const absl::Duration step = std::min(until - absl::Now(), absl::Milliseconds(200));
    if (db.await_notification(0, std::max<int64_t>(1, absl::ToInt64Microseconds(step))) > 0) {
      return;
    }
  }
}

}  // namespace booking
