// A test's own Ingest caller (standing in for the relay): events built by
// hand, a batch sent and its acknowledgement read on one stream.
#ifndef TESTS_SUPPORT_INGEST_CLIENT_H_
#define TESTS_SUPPORT_INGEST_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"

namespace booking::testing {

// A fresh event id: "00000000-0000-4000-8000-<12 digits of n>".
inline std::string EventId(int64_t n) {
  return absl::StrCat("00000000-0000-4000-8000-", absl::StrFormat("%012d", n));
}

inline history::v1::StatusChangeEvent StatusEvent(const std::string& event_id,
                                                  const std::string& booking, int64_t sequence,
                                                  const std::string& from, const std::string& to,
                                                  const std::string& by = "consistency-test") {
  history::v1::StatusChangeEvent e;
  e.set_event_id(event_id);
  e.set_booking_id(booking);
  e.set_sequence(sequence);
  e.set_from_status(from);
  e.set_to_status(to);
  e.set_changed_by(by);
  e.mutable_change_time()->set_seconds(1700000000 + sequence);
  return e;
}

class IngestClient {
 public:
  explicit IngestClient(const std::string& target)
      : stub_(history::v1::HistoryService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
        stream_(stub_->Ingest(&context_)) {}
  ~IngestClient() {
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  // Sends the events as one batch; its acknowledgement.
  absl::StatusOr<history::v1::IngestAck> Send(
      const std::vector<history::v1::StatusChangeEvent>& events) {
    history::v1::IngestRequest batch;
    batch.set_batch_id(++batch_id_);
    for (const auto& e : events) *batch.add_events() = e;
    if (!stream_->Write(batch)) return absl::UnavailableError("ingest stream closed");
    history::v1::IngestAck ack;
    if (!stream_->Read(&ack)) return absl::UnavailableError("no acknowledgement");
    return ack;
  }

 private:
  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<history::v1::IngestRequest, history::v1::IngestAck>>
      stream_;
  uint64_t batch_id_ = 0;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_INGEST_CLIENT_H_
