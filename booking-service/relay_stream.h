// The relay's side of history.v1.HistoryService/Ingest: one stream at a time
// for one lane of the relay (each lane has its own, all over the relay's one
// channel), and the batches sent on it that await their acknowledgement,
// oldest first. history-service stores a stream's batches
// one after the other, so a booking's later events (in a later batch) never
// overtake its earlier ones.
#ifndef BOOKING_SERVICE_RELAY_STREAM_H_
#define BOOKING_SERVICE_RELAY_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "booking-service/relay_interrupts.h"
#include "booking-service/relay_outbox.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"

namespace booking {

struct RelayOptions;

// The channel to history-service for a relay's lifetime: gRPC reconnects it
// (with its own backoff, bounded by the relay's) and the message limits are
// set on it explicitly.
std::shared_ptr<grpc::Channel> HistoryChannel(const RelayOptions& options);

// Not thread safe: owned by one thread (the relay thread); RelayInterrupts cancels its call from
// others.
class IngestPipeline {
 public:
  IngestPipeline(std::shared_ptr<grpc::Channel> channel, RelayInterrupts& interrupts);
  // A stream still open is cancelled: what it had in flight stays in the
  // outbox.
  ~IngestPipeline();
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  int in_flight() const { return static_cast<int>(in_flight_.size()); }
  // Outbox ids of every batch in flight.
  std::vector<int64_t> InFlightIds() const;

  // Sends `batch` (with the next batch id), opening a stream first when none
  // is open. A failed write shows as a failed AwaitAck.
  void Send(Batch batch);

  struct Acked {
    Batch batch;
    history::v1::IngestAck ack;
  };
  // The acknowledgement of the oldest batch in flight. When the stream
  // ends instead, its status; the stream is closed and nothing is in flight
  // any more (unacknowledged events stay in the outbox).
  absl::StatusOr<Acked> AwaitAck();
  // Whether the stream that ended last had acknowledged a batch: it was a
  // working session, closed by the server (GOAWAY, connection age), not a
  // failure to reach history-service.
  bool ended_after_ack() const { return ended_after_ack_; }

  // Ends the stream in order (nothing in flight), waiting for the server's
  // status.
  void Close();

 private:
  void Open();
  absl::Status EndStream();

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<history::v1::HistoryService::Stub> stub_;
  RelayInterrupts& interrupts_;

  using Stream = grpc::ClientReaderWriter<history::v1::IngestRequest, history::v1::IngestAck>;
  std::unique_ptr<grpc::ClientContext> context_;
  std::optional<RelayInterrupts::Guard> context_guard_;
  std::unique_ptr<Stream> stream_;
  std::deque<Batch> in_flight_;
  uint64_t batch_id_ = 0;
  bool acked_ = false;  // by the open stream
  bool ended_after_ack_ = false;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_RELAY_STREAM_H_
