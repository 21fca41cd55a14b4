#include "tests/support/security_stack.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {

const char SecureStack::kPolicy[] = R"(# who may call what (tests)
group readers spiffe://booking.test/auditor token:reader@test
group writers token:dispatcher@test
allow spiffe://booking.test/booking-service /history.v1.HistoryService/Ingest
allow readers /history.v1.HistoryService/GetBookingHistory /history.v1.HistoryService/VerifyHistory /history.v1.HistoryService/ListHistory /history.v1.HistoryService/WatchHistory
allow readers /history.v1.HistoryService/GetLogCheckpoint /history.v1.HistoryService/GetConsistencyProof /history.v1.HistoryService/GetLogEntries
allow readers /booking.v1.BookingService/GetBooking /booking.v1.BookingService/ListBookings
allow writers /booking.v1.BookingService/*
)";

std::string Caller::Describe() const {
  return token.empty() ? absl::StrCat("certificate ", cert)
                       : absl::StrCat("token ", token, " over certificate ", cert);
}

absl::StatusOr<std::unique_ptr<SecureStack>> SecureStack::Start(PgCluster& pg,
                                                                const std::string& prefix,
                                                                Options options) {
  absl::StatusOr<std::unique_ptr<ServiceSet>> set = ServiceSet::Create(pg, prefix);
  if (!set.ok()) return set.status();
  absl::StatusOr<TestPki> pki = TestPki::Create((*set)->log_dir() + "/tls");
  if (!pki.ok()) return pki.status();
  for (const char* name : {"booking-service", "history-service", "auditor", "intruder", "tool"}) {
    if (absl::Status s = pki->Issue(name); !s.ok()) return s;
  }
  if (!options.relay_sans.empty()) {
    if (absl::Status s = pki->IssueWith("booking-service", options.relay_sans); !s.ok()) return s;
  }
  std::unique_ptr<SecureStack> stack(new SecureStack(*std::move(set), *std::move(pki)));
  stack->tokens_file_ = stack->set_->log_dir() + "/access-tokens";
  stack->policy_file_ = stack->set_->log_dir() + "/policy";
  if (options.tokens.empty()) {
    options.tokens =
        absl::StrCat(kWriterPrincipal, " ", kWriterToken, "\n", "reader@test ", kReaderToken, "\n");
  }
  std::ofstream(stack->tokens_file_) << options.tokens;
  std::ofstream(stack->policy_file_) << options.policy;
  std::vector<std::string> history = stack->pki_.ServerFlags("history-service");
  std::vector<std::string> booking = stack->pki_.ServerFlags("booking-service");
  for (const std::string& flag : stack->AccessFlags()) {
    history.push_back(flag);
    booking.push_back(flag);
  }
  stack->set_->SetSecurity(history, booking, stack->pki_.Client("tool"));
  if (absl::Status s = stack->set_->StartHistory(); !s.ok()) return s;
  if (absl::Status s = stack->set_->StartBooking(); !s.ok()) return s;
  return stack;
}

std::vector<std::string> SecureStack::AccessFlags() const {
  return {"--auth-tokens-file",
          tokens_file_,
          "--authz-policy",
          policy_file_,
          "--credentials-reload-interval",
          "1s"};
}

std::shared_ptr<grpc::Channel> SecureStack::Channel(const std::string& target,
                                                    const Caller& caller) const {
  // A channel of its own per caller: gRPC would otherwise share one
  // connection (and so one client certificate) between equal channels.
  grpc::ChannelArguments args;
  args.SetString("test.caller", caller.Describe());
  return grpc::CreateCustomChannel(target, pki_.Client(caller.cert), args);
}

std::unique_ptr<grpc::ClientContext> SecureStack::Context(const Caller& caller) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!caller.token.empty()) context->AddMetadata("authorization", "Bearer " + caller.token);
  return context;
}

absl::Status SecureStack::CreateBooking(const std::string& id) {
  const Caller writer = Caller::Token(kWriterToken);
  auto stub = v1::BookingService::NewStub(Channel(set_->booking_target(), writer));
  v1::CreateBookingRequest request;
  request.set_booking_id(id);
  request.set_customer_id("customer-1");
  request.set_payment_settled(true);
  v1::Booking out;
  grpc::Status s = stub->CreateBooking(Context(writer).get(), request, &out);
  if (!s.ok()) return absl::InternalError(absl::StrCat("CreateBooking: ", s.error_message()));
  return absl::OkStatus();
}

absl::Status SecureStack::CancelBooking(const std::string& id) {
  const Caller writer = Caller::Token(kWriterToken);
  auto stub = v1::BookingService::NewStub(Channel(set_->booking_target(), writer));
  v1::ChangeStatusRequest request;
  request.set_booking_id(id);
  request.set_target_status(v1::CANCELLED);
  v1::ChangeStatusResponse out;
  grpc::Status s = stub->ChangeStatus(Context(writer).get(), request, &out);
  if (!s.ok()) return absl::InternalError(absl::StrCat("ChangeStatus: ", s.error_message()));
  return absl::OkStatus();
}

grpc::Status SecureStack::ForgeNextEvent(const Caller& caller, const std::string& booking_id,
                                         int64_t sequence, const std::string& from,
                                         const std::string& to, const std::string& changed_by) {
  auto stub = history::v1::HistoryService::NewStub(Channel(set_->history_target(), caller));
  auto context = Context(caller);
  auto stream = stub->Ingest(context.get());
  history::v1::IngestRequest request;
  request.set_batch_id(1);
  history::v1::StatusChangeEvent* e = request.add_events();
  e->set_event_id("5f0c7a52-9d1e-4c43-9a77-0b8f3a1d2e01");
  e->set_booking_id(booking_id);
  e->set_sequence(sequence);
  e->set_from_status(from);
  e->set_to_status(to);
  e->set_changed_by(changed_by);
  e->mutable_change_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  (void)stream->Write(request);
  history::v1::IngestAck ack;
  while (stream->Read(&ack)) {
  }
  return stream->Finish();
}

absl::StatusOr<SecureStack::Extra> SecureStack::StartTlsOnlyHistory() {
  Extra extra{.process = std::nullopt, .target = absl::StrCat("127.0.0.1:", FreePort())};
  std::vector<std::string> argv = {HistoryServiceBin(),
                                   "--listen",
                                   extra.target,
                                   "--database-url",
                                   set_->history_url(),
                                   "--tls-cert",
                                   pki_.cert("history-service"),
                                   "--tls-key",
                                   pki_.key("history-service"),
                                   "--metrics-listen",
                                   absl::StrCat("127.0.0.1:", FreePort())};
  for (const std::string& flag : AccessFlags()) argv.push_back(flag);
  absl::StatusOr<Process> p = Process::Spawn(argv, {}, set_->log_dir() + "/history-tls-only.log");
  if (!p.ok()) return p.status();
  extra.process = *std::move(p);
  if (absl::Status s = WaitServing(extra.target, absl::Seconds(30), pki_.Client("")); !s.ok()) {
    return s;
  }
  return extra;
}

}  // namespace booking::testing
