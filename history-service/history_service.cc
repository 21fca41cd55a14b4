#include "history-service/history_service.h"

#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/authz_interceptor.h"
#include "common/call_context.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rpc_error.h"
#include "common/rpc_status.h"
#include "common/trace_context.h"
#include "history-service/history_page.h"
#include "history-service/watch_stream.h"

namespace booking {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr absl::string_view kDomain = "history.v1";

// Lenient as history itself: any booking id the booking store may hold.
absl::Status CheckBookingId(const std::string& id) {
  if (id.empty()) return InvalidField("booking_id", "required");
  return CheckText("booking_id", id, limits::kMaxIdBytes);
}

}  // namespace

HistoryServiceImpl::HistoryServiceImpl(HistoryStore& store, prometheus::Registry& metrics,
                                       WatchHub* watches, ReadBounds reads)
    : store_(store),
      watches_(watches),
      readers_({.max_per_caller = reads.max_per_caller,
                .what = "read calls (GetBookingHistory, ListHistory, VerifyHistory)",
                .domain = std::string(kDomain),
                .max_wait = reads.max_wait,
                .max_waiting = reads.max_waiting}),
      events_(prometheus::BuildCounter()
                  .Name("history_ingested_events_total")
                  .Help("events received on the ingest stream, by outcome")
                  .Register(metrics)),
      held_(prometheus::BuildCounter()
                .Name("history_held_back_events_total")
                .Help("events held back instead of stored, by reason (gap, fork, conflict); "
                      "each place (booking, sequence, reason) counted once, however often and "
                      "with whatever event ids it is sent")
                .Register(metrics)) {
  // Present from the start, so a dashboard sees 0 rather than nothing.
  for (const char* reason : {"gap", "fork", "conflict"}) held_.Add({{"reason", reason}});
}

template <typename Response>
grpc::Status HistoryServiceImpl::ServeRead(grpc::ServerContext& context, absl::string_view method,
                                           Response* response,
                                           absl::FunctionRef<absl::StatusOr<Response>()> read) {
  auto run = [&]() -> absl::Status {
    if (absl::Status refused = CallRefusal(context); !refused.ok()) return refused;  // authz
    absl::StatusOr<CallerLimiter::Slot> slot = EnterRead(context);
    if (!slot.ok()) return slot.status();
    absl::StatusOr<Response> answer = read();
    if (!answer.ok()) return answer.status();
    *response = *std::move(answer);
    return absl::OkStatus();
  };
  return ToCallerStatus(run(), kDomain, method);
}

grpc::Status HistoryServiceImpl::GetBookingHistory(
    grpc::ServerContext* context, const history::v1::GetBookingHistoryRequest* request,
    history::v1::GetBookingHistoryResponse* response) {
  using Response = history::v1::GetBookingHistoryResponse;
  return ServeRead<Response>(
      *context, "history.v1.HistoryService/GetBookingHistory", response,
      [&]() -> absl::StatusOr<Response> {
        if (absl::Status s = CheckBookingId(request->booking_id()); !s.ok()) return s;
        absl::StatusOr<int> page_size = PageSizeOf(request->page_size(), kDefaultPageSize);
        if (!page_size.ok()) return page_size.status();
        absl::StatusOr<int64_t> after =
            HistoryPageAfter(request->page_token(), request->booking_id());
        if (!after.ok()) return after.status();
        return store_.Get(request->booking_id(), *page_size, *after, DeadlineOf(*context));
      });
}

grpc::Status HistoryServiceImpl::VerifyHistory(grpc::ServerContext* context,
                                               const history::v1::VerifyHistoryRequest* request,
                                               history::v1::VerifyHistoryResponse* response) {
  using Response = history::v1::VerifyHistoryResponse;
  return ServeRead<Response>(*context, "history.v1.HistoryService/VerifyHistory", response,
                             [&]() -> absl::StatusOr<Response> {
                               if (absl::Status s = CheckBookingId(request->booking_id()); !s.ok())
                                 return s;
                               absl::StatusOr<Response> verified =
                                   store_.Verify(request->booking_id(), DeadlineOf(*context));
                               if (verified.ok() && !verified->verified()) {
                                 LogError(
                                     "history does not verify",
                                     {{"booking_id", request->booking_id()},
                                      {"sequence", absl::StrCat(verified->first_bad_sequence())},
                                      {"problem", verified->problem()}});
                               }
                               return verified;
                             });
}

grpc::Status HistoryServiceImpl::GetLogCheckpoint(grpc::ServerContext* context,
                                                  const history::v1::GetLogCheckpointRequest*,
                                                  history::v1::LogCheckpoint* response) {
  return ServeRead<history::v1::LogCheckpoint>(
      *context, "history.v1.HistoryService/GetLogCheckpoint", response,
      [&] { return store_.LogCheckpoint(DeadlineOf(*context)); });
}

grpc::Status HistoryServiceImpl::GetConsistencyProof(
    grpc::ServerContext* context, const history::v1::GetConsistencyProofRequest* request,
    history::v1::ConsistencyProof* response) {
  return ServeRead<history::v1::ConsistencyProof>(
      *context, "history.v1.HistoryService/GetConsistencyProof", response,
      [&] { return store_.ConsistencyProof(*request, DeadlineOf(*context)); });
}

grpc::Status HistoryServiceImpl::GetLogEntries(grpc::ServerContext* context,
                                               const history::v1::GetLogEntriesRequest* request,
                                               history::v1::GetLogEntriesResponse* response) {
  using Response = history::v1::GetLogEntriesResponse;
  return ServeRead<Response>(*context, "history.v1.HistoryService/GetLogEntries", response,
                             [&]() -> absl::StatusOr<Response> {
                               absl::StatusOr<int> page_size =
                                   PageSizeOf(request->page_size(), kDefaultPageSize);
                               if (!page_size.ok()) return page_size.status();
                               return store_.LogEntries(*request, *page_size, DeadlineOf(*context));
                             });
}

grpc::Status HistoryServiceImpl::ListHistory(grpc::ServerContext* context,
                                             const history::v1::ListHistoryRequest* request,
                                             history::v1::ListHistoryResponse* response) {
  using Response = history::v1::ListHistoryResponse;
  return ServeRead<Response>(*context, "history.v1.HistoryService/ListHistory", response,
                             [&]() -> absl::StatusOr<Response> {
                               absl::StatusOr<ListPlan> plan = PlanListHistory(*request);
                               if (!plan.ok()) return plan.status();
                               return store_.List(*plan, DeadlineOf(*context));
                             });
}

grpc::Status HistoryServiceImpl::Ingest(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<history::v1::IngestAck, history::v1::IngestRequest>* stream) {
  if (absl::Status refused = CallRefusal(*context); !refused.ok()) return ToGrpcStatus(refused);
  const grpc::Status shutting_down =
      ToGrpcStatus(RpcError(absl::StatusCode::kUnavailable, "history-service is shutting down")
                       .Info("SHUTTING_DOWN", std::string(kDomain)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) return shutting_down;
    if (streams_.size() >= limits::kMaxIngestStreams) {
      return ToGrpcStatus(
          RpcError(absl::StatusCode::kResourceExhausted,
                   absl::StrCat("history-service already has ", limits::kMaxIngestStreams,
                                " ingest streams open; retry with backoff"))
              .Info("TOO_MANY_INGEST_STREAMS", std::string(kDomain)));
    }
    streams_.emplace(context, OpenStream{});
  }
  absl::Cleanup forget = [this, context] {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(context);
  };
  LogInfo("ingest stream opened", {{"peer", context->peer()}});
  history::v1::IngestRequest batch;
  while (stream->Read(&batch)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      OpenStream& open = streams_[context];
      // Cancelled as the batch arrived: no acknowledgement could be sent, so
      // it is not stored either; the relay sends it again.
      if (open.cancelled) break;
      open.busy = true;
    }
    absl::StatusOr<StoredBatch> stored = store_.StoreBatch(batch);
    if (!stored.ok()) {
      // Nothing of the batch is acknowledged; the relay sends it again.
      LogWarning("ingest batch failed", {{"error", stored.status().ToString()}});
      return ToCallerStatus(stored.status(), kDomain, "history.v1.HistoryService/Ingest");
    }
    Count(*stored);
    if (!stream->Write(stored->ack)) break;
    std::lock_guard<std::mutex> lock(mu_);
    streams_[context].busy = false;
    if (draining_) {
      LogInfo("ingest stream ended for shutdown after its batch", {{"peer", context->peer()}});
      return shutting_down;
    }
  }
  LogInfo("ingest stream closed", {{"peer", context->peer()}});
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<history::v1::WatchHistoryResponse>* HistoryServiceImpl::WatchHistory(
    grpc::CallbackServerContext* context, const history::v1::WatchHistoryRequest* request) {
  return StartWatch(context, *request, watches_);
}

absl::StatusOr<CallerLimiter::Slot> HistoryServiceImpl::EnterRead(
    const grpc::ServerContextBase& context) {
  // Keyed by the principal authentication established (authz_interceptor.h).
  return readers_.Enter(CallerPrincipal(context), absl::FromChrono(context.deadline()));
}

void HistoryServiceImpl::Count(const StoredBatch& stored) {
  const history::v1::IngestAck& ack = stored.ack;
  // One line per stored entry, at info when its trace is sampled (the
  // caller asked for its journey: trace_context.h), else at debug
  // (LOG_LEVEL=debug): the change's traceparent finds it here as in
  // booking-service's log, its outbox row and its history row. At info, one
  // line per interval besides (IngestTally).
  for (const StoredEntryLog& e : stored.stored) {
    const bool sampled = IsSampled(e.traceparent);
    if (!sampled && !LogEnabled(LogLevel::kDebug)) continue;
    Log(sampled ? LogLevel::kInfo : LogLevel::kDebug, "history entry stored",
        {{"event_id", e.event_id},
         {"booking_id", e.booking_id},
         {"sequence", absl::StrCat(e.sequence)},
         {"traceparent", e.traceparent}});
  }
  if (auto summary = tally_.Add(static_cast<int64_t>(stored.stored.size()), absl::Now())) {
    LogIngestSummary(*summary);
  }
  const int held = static_cast<int>(stored.held.size());
  events_.Add({{"outcome", "stored"}}).Increment(ack.stored());
  events_.Add({{"outcome", "duplicate"}}).Increment(ack.duplicates());
  events_.Add({{"outcome", "rejected"}}).Increment(ack.rejected_size() - held);
  events_.Add({{"outcome", "held_back"}}).Increment(held);
  if (stored.promoted > 0) {
    events_.Add({{"outcome", "stored_after_gap"}}).Increment(stored.promoted);
    LogInfo("held-back events stored after their gap filled",
            {{"count", absl::StrCat(stored.promoted)}});
  }
  for (const auto& [reason, n] : stored.newly_held) held_.Add({{"reason", reason}}).Increment(n);
  std::set<std::string> held_ids;
  for (const HeldEventLog& h : stored.held) {
    held_ids.insert(h.event_id);
    LogWarning("event held back",
               {{"event_id", h.event_id}, {"reason", h.reason}, {"detail", h.detail}});
  }
  for (const auto& r : ack.rejected()) {
    if (held_ids.count(r.event_id())) continue;
    LogError("rejected event", {{"event_id", r.event_id()}, {"reason", r.reason()}});
  }
}

void HistoryServiceImpl::BeginDrain() {
  if (watches_ != nullptr) watches_->Drain();
  if (auto summary = tally_.Flush(absl::Now())) LogIngestSummary(*summary);
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = true;
  int cancelled = 0;
  for (auto& [context, open] : streams_) {
    if (!open.busy) {
      open.cancelled = true;
      context->TryCancel();
      ++cancelled;
    }
  }
  LogInfo("ingest streams end for shutdown",
          {{"waiting_cancelled", absl::StrCat(cancelled)},
           {"finishing_their_batch", absl::StrCat(streams_.size() - cancelled)}});
}

}  // namespace booking
