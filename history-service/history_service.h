// history.v1.HistoryService: the ingest stream from booking-service's relay
// and history queries.
#ifndef HISTORY_SERVICE_HISTORY_SERVICE_H_
#define HISTORY_SERVICE_HISTORY_SERVICE_H_

#include <map>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/caller_limiter.h"
#include "history-service/history_store.h"
#include "history-service/ingest_tally.h"
#include "history-service/watch_hub.h"
#include "history/v1/history.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace booking {

// The bound on GetBookingHistory, ListHistory and VerifyHistory calls of
// one principal (CallerLimiter): beyond max_per_caller running (0: no
// bound), a call waits up to max_wait for a place (at most max_waiting
// calls wait at once), then is refused with RESOURCE_EXHAUSTED and a
// RetryInfo.
struct ReadBounds {
  int max_per_caller = 0;
  absl::Duration max_wait = absl::ZeroDuration();
  int max_waiting = 0;
};

// WatchHistory runs on gRPC's callback API (history-service/watch_stream.h),
// the other methods on the sync one.
//
// Thread safe (gRPC calls it from many threads).
class HistoryServiceImpl final
    : public history::v1::HistoryService::WithCallbackMethod_WatchHistory<
          history::v1::HistoryService::Service> {
 public:
  // `watches` null: WatchHistory is UNIMPLEMENTED.
  HistoryServiceImpl(HistoryStore& store, prometheus::Registry& metrics,
                     WatchHub* watches = nullptr, ReadBounds reads = {});

  grpc::Status GetBookingHistory(grpc::ServerContext* context,
                                 const history::v1::GetBookingHistoryRequest* request,
                                 history::v1::GetBookingHistoryResponse* response) override;
  grpc::Status VerifyHistory(grpc::ServerContext* context,
                             const history::v1::VerifyHistoryRequest* request,
                             history::v1::VerifyHistoryResponse* response) override;
  grpc::Status GetLogCheckpoint(grpc::ServerContext* context,
                                const history::v1::GetLogCheckpointRequest* request,
                                history::v1::LogCheckpoint* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const history::v1::GetConsistencyProofRequest* request,
                                   history::v1::ConsistencyProof* response) override;
  grpc::Status GetLogEntries(grpc::ServerContext* context,
                             const history::v1::GetLogEntriesRequest* request,
                             history::v1::GetLogEntriesResponse* response) override;
  grpc::Status ListHistory(grpc::ServerContext* context,
                           const history::v1::ListHistoryRequest* request,
                           history::v1::ListHistoryResponse* response) override;
  grpc::Status Ingest(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<history::v1::IngestAck, history::v1::IngestRequest>*
                          stream) override;
  grpc::ServerWriteReactor<history::v1::WatchHistoryResponse>* WatchHistory(
      grpc::CallbackServerContext* context,
      const history::v1::WatchHistoryRequest* request) override;

  // SIGTERM: ends every ingest stream after the batch it is storing (that
  // batch is stored and acknowledged; a stream waiting for its next batch is
  // cancelled at once) and refuses new streams, so the server need not wait
  // for long-lived streams until the drain timeout. The relay sends what is
  // unacknowledged to another replica. Watches end too (WatchHub::Drain).
  void BeginDrain();

 private:
  struct OpenStream {
    bool busy = false;       // storing a batch: let it finish and acknowledge
    bool cancelled = false;  // cancelled by BeginDrain while waiting
  };

  // A place for one more read call of the caller (readers_).
  absl::StatusOr<CallerLimiter::Slot> EnterRead(const grpc::ServerContextBase& context);
  // One read call: refused as the policy says, in a read slot, then `read`
  // (the request's checks and the store's answer) into `response`; the
  // status the caller gets for `method`.
  template <typename Response>
  grpc::Status ServeRead(grpc::ServerContext& context, absl::string_view method, Response* response,
                         absl::FunctionRef<absl::StatusOr<Response>()> read);

  // Metrics and logs of a stored batch: held-back events by reason.
  void Count(const StoredBatch& stored);

  HistoryStore& store_;
  WatchHub* const watches_;
  CallerLimiter readers_;
  std::mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::map<grpc::ServerContext*, OpenStream> streams_ ABSL_GUARDED_BY(mu_);
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& held_;
  IngestTally tally_{absl::Seconds(10)};  // the info line per interval
};

}  // namespace booking

#endif  // HISTORY_SERVICE_HISTORY_SERVICE_H_
