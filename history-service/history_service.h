// history.v1.HistoryService: the ingest stream from booking-service's relay
// and history queries.
#ifndef HISTORY_SERVICE_HISTORY_SERVICE_H_
#define HISTORY_SERVICE_HISTORY_SERVICE_H_

#include "history-service/history_store.h"
#include "history/v1/history.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace booking {

class HistoryServiceImpl final : public history::v1::HistoryService::Service {
 public:
  HistoryServiceImpl(HistoryStore& store, prometheus::Registry& metrics);

  grpc::Status GetBookingHistory(grpc::ServerContext* context,
                                 const history::v1::GetBookingHistoryRequest* request,
                                 history::v1::GetBookingHistoryResponse* response) override;
  grpc::Status Ingest(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<history::v1::IngestAck, history::v1::IngestRequest>*
                          stream) override;

 private:
  HistoryStore& store_;
  prometheus::Family<prometheus::Counter>& events_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_HISTORY_SERVICE_H_
