#include "booking-service/relay_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "booking-service/outbox_relay.h"

namespace booking {
namespace {

int Milliseconds(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

}  // namespace

std::shared_ptr<grpc::Channel> HistoryChannel(const RelayOptions& options) {
  grpc::ChannelArguments args;
  // A history-service that stops answering is noticed within ~30 s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // Explicit, not gRPC's defaults: a batch never outgrows what is sent.
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  // gRPC reconnects the channel itself; no longer apart than the relay's
  // own retries, so a history-service back up is found within max_backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, Milliseconds(options.min_backoff));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Milliseconds(options.min_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, Milliseconds(options.max_backoff));
  // TLS verifying history-service with our CA and presenting our own
  // certificate as the client identity (common/tls.h), unless plaintext.
  return grpc::CreateCustomChannel(
      options.history_target,
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials(),
      args);
}

IngestPipeline::IngestPipeline(std::shared_ptr<grpc::Channel> channel, RelayInterrupts& interrupts)
    : channel_(std::move(channel)),
      stub_(history::v1::HistoryService::NewStub(channel_)),
      interrupts_(interrupts) {}

IngestPipeline::~IngestPipeline() {
  if (stream_ != nullptr) {
    context_->TryCancel();
    (void)EndStream();
  }
}

std::vector<int64_t> IngestPipeline::InFlightIds() const {
  std::vector<int64_t> ids;
  for (const Batch& b : in_flight_) ids.insert(ids.end(), b.outbox_ids.begin(), b.outbox_ids.end());
  return ids;
}

void IngestPipeline::Open() {
  context_ = std::make_unique<grpc::ClientContext>();
  // Registered before the call starts: Stop can cancel it while it opens.
  context_guard_.emplace(interrupts_, context_.get());
  stream_ = stub_->Ingest(context_.get());
  acked_ = false;
}

void IngestPipeline::Send(Batch batch) {
  if (stream_ == nullptr) Open();
  batch.request.set_batch_id(++batch_id_);
  (void)stream_->Write(batch.request);
  in_flight_.push_back(std::move(batch));
}

absl::StatusOr<IngestPipeline::Acked> IngestPipeline::AwaitAck() {
  history::v1::IngestAck ack;
  if (stream_ == nullptr || in_flight_.empty()) {
    return absl::FailedPreconditionError("no batch awaits an acknowledgement");
  }
  if (!stream_->Read(&ack)) return EndStream();
  if (ack.batch_id() != in_flight_.front().request.batch_id()) {
    return absl::InternalError(absl::StrCat("acknowledgement for batch ", ack.batch_id(),
                                            " while waiting for ",
                                            in_flight_.front().request.batch_id()));
  }
  acked_ = true;
  Acked acked{std::move(in_flight_.front()), std::move(ack)};
  in_flight_.pop_front();
  return acked;
}

void IngestPipeline::Close() {
  if (stream_ == nullptr) return;
  stream_->WritesDone();
  (void)EndStream();
}

absl::Status IngestPipeline::EndStream() {
  const grpc::Status s = stream_->Finish();
  stream_.reset();
  context_guard_.reset();
  context_.reset();
  in_flight_.clear();  // unacknowledged: they stay in the outbox
  ended_after_ack_ = acked_;
  acked_ = false;
  if (s.ok()) return absl::UnavailableError("history-service ended the stream");
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace booking
