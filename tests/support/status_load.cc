#include "tests/support/status_load.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/wait.h"

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
    Pace(absl::Milliseconds(50));  // a retry's backoff
  }
}

bool StatusLoad::Create(v1::BookingService::Stub& stub, const std::string& id, int64_t* version,
                        v1::BookingStatus* status) {
  v1::CreateBookingRequest request;
  request.set_booking_id(id);
  request.set_customer_id("load");
  request.set_payment_settled(true);
  request.set_request_id(absl::StrCat(id, "/create"));
  v1::Booking response;
  if (!Resolve(
          [&](grpc::ClientContext& c) { return stub.CreateBooking(&c, request, &response); })) {
    return false;
  }
  *version = response.version();
  *status = response.status();
  std::lock_guard<std::mutex> lock(mu_);
  acked_.push_back({id, *version, v1::BookingStatus_Name(*status)});
  ++acked_count_;
  return true;
}

v1::BookingStatus StatusLoad::Next(v1::BookingStatus status) const {
  if (!options_.lifecycle) return status == v1::CONFIRMED ? v1::PICKUP_ASSIGNED : v1::CONFIRMED;
  switch (status) {
    case v1::CONFIRMED:
      return v1::PICKUP_ASSIGNED;
    case v1::PICKUP_ASSIGNED:
      return v1::PICKED_UP;
    case v1::PICKED_UP:
      return v1::AT_WORKSHOP;
    case v1::AT_WORKSHOP:
      return v1::IN_SERVICE;
    case v1::IN_SERVICE:
      return v1::READY_FOR_RETURN;
    case v1::READY_FOR_RETURN:
      return v1::RETURN_ASSIGNED;
    case v1::RETURN_ASSIGNED:
      return v1::RETURNED;
    case v1::RETURNED:
      return v1::DELIVERED;
    default:
      return v1::CONFIRMED;
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
  int created = 0;
  for (int n = 0; n < options_.bookings_per_thread && !stopping_; ++n) {
    Owned b;
    b.id = absl::StrCat(options_.booking_prefix, "-", thread, "-", created++);
    if (!Create(*stub, b.id, &b.version, &b.status)) return;
    bookings.push_back(std::move(b));
  }
  absl::Time slot = absl::Now();  // when the next change is due (paced load)
  for (size_t i = 0; !stopping_ && !bookings.empty(); ++i) {
    Owned& b = bookings[i % bookings.size()];
    if (b.status == v1::DELIVERED) {  // done: a new booking takes its place
      b.id = absl::StrCat(options_.booking_prefix, "-", thread, "-", created++);
      if (!Create(*stub, b.id, &b.version, &b.status)) return;
      continue;
    }
    v1::ChangeStatusRequest request;
    request.set_booking_id(b.id);
    request.set_target_status(Next(b.status));
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
    if (options_.pause > absl::ZeroDuration()) Pace(options_.pause);
    if (options_.interval > absl::ZeroDuration()) {
      slot = std::max(slot + options_.interval, absl::Now() - options_.interval);
      if (slot > absl::Now()) Pace(slot - absl::Now());
    }
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

absl::Status StatusLoad::WaitForMoreAcked(int64_t n, absl::Duration timeout) const {
  const int64_t target = acked_count() + n;
  return WaitFor([&] { return acked_count() >= target; }, timeout, "acknowledged changes",
                 absl::Milliseconds(10));
}

}  // namespace booking::testing
