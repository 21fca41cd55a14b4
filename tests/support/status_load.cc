#include "tests/support/status_load.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"

namespace booking::testing {

std::shared_ptr<grpc::Channel> StatusLoad::NewChannel() const {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // A restarted replica is found again within a second, not after gRPC's
  // default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::unique_ptr<StatusLoad>> StatusLoad::Start(LoadOptions options) {
  std::unique_ptr<StatusLoad> load(new StatusLoad(std::move(options)));
  for (int t = 0; t < load->options_.threads; ++t) {
    load->threads_.emplace_back([raw = load.get(), t] { raw->Worker(t); });
  }
  return load;
}

StatusLoad::~StatusLoad() { Stop(); }

void StatusLoad::Stop() {
  stopping_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool StatusLoad::Resolve(const std::function<grpc::Status(grpc::ClientContext&)>& call) {
  const absl::Time give_up = absl::Now() + options_.resolve_timeout;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
    const absl::Time started = absl::Now();
    grpc::Status status = call(context);
    if (status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      latencies_.push_back(absl::Now() - started);
      return true;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++failures_[absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))];
    }
    if (!options_.retry_until_ok) return false;
    if (absl::Now() > give_up) {
      ++unresolved_;
      return false;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void StatusLoad::Worker(int thread) {
  auto stub = v1::BookingService::NewStub(NewChannel());
  struct Owned {
    std::string id;
    int64_t version = 0;
    v1::BookingStatus status = v1::BOOKING_STATUS_UNSPECIFIED;
  };
  std::vector<Owned> bookings;
  for (int n = 0; n < options_.bookings_per_thread && !stopping_; ++n) {
    Owned b;
    b.id = absl::StrCat(options_.booking_prefix, "-", thread, "-", n);
    v1::CreateBookingRequest request;
    request.set_booking_id(b.id);
    request.set_customer_id("load");
    request.set_payment_settled(true);
    request.set_request_id(absl::StrCat(b.id, "/create"));
    v1::Booking response;
    if (!Resolve(
            [&](grpc::ClientContext& c) { return stub->CreateBooking(&c, request, &response); })) {
      return;
    }
    b.version = response.version();
    b.status = response.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      acked_.push_back({b.id, b.version, v1::BookingStatus_Name(b.status)});
    }
    ++acked_count_;
    bookings.push_back(std::move(b));
  }
  for (size_t i = 0; !stopping_ && !bookings.empty(); ++i) {
    Owned& b = bookings[i % bookings.size()];
    v1::ChangeStatusRequest request;
    request.set_booking_id(b.id);
    request.set_target_status(b.status == v1::CONFIRMED ? v1::PICKUP_ASSIGNED : v1::CONFIRMED);
    request.set_reason("load");
    // One id per change: a retry of it is answered once.
    request.set_request_id(absl::StrCat(b.id, "/", b.version + 1));
    v1::ChangeStatusResponse response;
    if (!Resolve(
            [&](grpc::ClientContext& c) { return stub->ChangeStatus(&c, request, &response); })) {
      return;
    }
    b.version = response.booking().version();
    b.status = response.booking().status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      acked_.push_back({b.id, b.version, v1::BookingStatus_Name(b.status)});
    }
    ++acked_count_;
    if (options_.pause > absl::ZeroDuration()) absl::SleepFor(options_.pause);
  }
}

std::vector<AckedChange> StatusLoad::acked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

std::map<std::string, int64_t> StatusLoad::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

int64_t StatusLoad::failed_calls() const {
  int64_t n = 0;
  for (const auto& [code, count] : failures()) n += count;
  return n;
}

std::vector<absl::Duration> StatusLoad::latencies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latencies_;
}

}  // namespace booking::testing
