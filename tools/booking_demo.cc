// booking-demo: walks one booking through its whole lifecycle over gRPC and
// prints its history as history-service recorded it.
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "common/config.h"
#include "common/log.h"
#include "common/tls.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "history/v1/history.grpc.pb.h"

ABSL_FLAG(std::string, booking_target, "localhost:50051", "booking-service HOST:PORT");
ABSL_FLAG(std::string, history_target, "localhost:50052", "history-service HOST:PORT");
ABSL_FLAG(std::string, token, "", "bearer token for booking-service [env BOOKING_TOKEN]");
ABSL_FLAG(std::string, booking_id, "",
          "with --change-to: the booking to change; alone: print that booking and its history");
ABSL_FLAG(std::string, change_to, "", "change --booking-id to this status (e.g. PICKED_UP)");
ABSL_FLAG(absl::Duration, history_wait, absl::Seconds(30),
          "how long to wait for the history to arrive");

namespace booking {
namespace {

constexpr char kUsage[] = R"(walks one booking through its whole lifecycle and prints its history.

  booking-demo --booking-target localhost:50051 --history-target localhost:50052
  booking-demo --booking-id bk-00000002 --change-to PICKED_UP   (one change, then the history)
  booking-demo --booking-id bk-00000002                         (the booking and its history))";

class Demo {
 public:
  Demo(std::shared_ptr<grpc::Channel> booking, std::shared_ptr<grpc::Channel> history,
       std::string token)
      : bookings_(v1::BookingService::NewStub(booking)),
        history_(history::v1::HistoryService::NewStub(history)),
        token_(std::move(token)) {}

  // One booking: optionally change it, then print it and its history.
  int Show(const std::string& booking_id, const std::string& change_to) {
    v1::Booking booking;
    if (!change_to.empty()) {
      v1::ChangeStatusRequest change;
      change.set_booking_id(booking_id);
      v1::BookingStatus target;
      if (!v1::BookingStatus_Parse(change_to, &target)) {
        std::cerr << "unknown status " << change_to << "\n";
        return 2;
      }
      change.set_target_status(target);
      change.set_reason("changed with booking-demo");
      v1::ChangeStatusResponse changed;
      if (!Check("ChangeStatus", bookings_->ChangeStatus(Context().get(), change, &changed))) {
        return 1;
      }
      booking = changed.booking();
    } else {
      v1::GetBookingRequest get;
      get.set_booking_id(booking_id);
      if (!Check("GetBooking", bookings_->GetBooking(Context().get(), get, &booking))) return 1;
    }
    std::cout << "booking " << booking.id() << ": " << v1::BookingStatus_Name(booking.status())
              << " (version " << booking.version() << ")\n";
    return PrintHistory(booking.id(), booking.version());
  }

  int Run() {
    v1::CreateBookingRequest create;
    create.set_customer_id("customer-demo");
    create.set_payment_settled(true);
    create.set_reason("booked online, paid by card");
    v1::Booking booking;
    if (!Check("CreateBooking", bookings_->CreateBooking(Context().get(), create, &booking))) {
      return 1;
    }
    std::cout << "created booking " << booking.id() << " in "
              << v1::BookingStatus_Name(booking.status()) << "\n";
    const std::pair<v1::BookingStatus, const char*> steps[] = {
        {v1::PICKUP_ASSIGNED, "driver assigned"}, {v1::PICKED_UP, "car collected"},
        {v1::AT_WORKSHOP, "arrived at workshop"}, {v1::IN_SERVICE, "work started"},
        {v1::READY_FOR_RETURN, "work done"},      {v1::RETURN_ASSIGNED, "return driver assigned"},
        {v1::RETURNED, "car returned"},           {v1::DELIVERED, "customer confirmed"},
    };
    for (const auto& [status, reason] : steps) {
      if (status == v1::READY_FOR_RETURN) {
        v1::CreateExtensionRequest ext;
        ext.set_booking_id(booking.id());
        ext.set_description("brake pads worn: replace");
        ext.set_price_cents(12900);
        v1::CreateExtensionResponse ext_response;
        if (!Check("CreateExtension",
                   bookings_->CreateExtension(Context().get(), ext, &ext_response))) {
          return 1;
        }
        std::cout << "  extension " << ext_response.extension().id() << " added; booking stays "
                  << v1::BookingStatus_Name(ext_response.booking().status()) << "\n";
      }
      v1::ChangeStatusRequest change;
      change.set_booking_id(booking.id());
      change.set_target_status(status);
      change.set_expected_version(booking.version());
      change.set_reason(reason);
      (*change.mutable_metadata()->mutable_fields())["source"].set_string_value("booking-demo");
      v1::ChangeStatusResponse changed;
      if (!Check("ChangeStatus", bookings_->ChangeStatus(Context().get(), change, &changed))) {
        return 1;
      }
      booking = changed.booking();
      std::cout << "  -> " << v1::BookingStatus_Name(booking.status()) << " (version "
                << booking.version() << ")\n";
    }
    return PrintHistory(booking.id(), booking.version());
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  static bool Check(absl::string_view what, const grpc::Status& status) {
    if (status.ok()) return true;
    std::cerr << what << " failed: " << status.error_code() << " " << status.error_message()
              << "\n";
    return false;
  }

  // History arrives asynchronously (through the outbox relay): wait for it.
  int PrintHistory(const std::string& booking_id, int64_t expected_entries) {
    const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_history_wait);
    history::v1::GetBookingHistoryResponse response;
    while (true) {
      history::v1::GetBookingHistoryRequest request;
      request.set_booking_id(booking_id);
      response.Clear();
      // The token names the reader too (history-service takes the same tokens).
      auto context = Context();
      grpc::Status status = history_->GetBookingHistory(context.get(), request, &response);
      if (status.ok() && response.entries_size() >= expected_entries) break;
      if (absl::Now() > deadline) {
        std::cerr << "history of " << booking_id << " incomplete after waiting ("
                  << response.entries_size() << " of " << expected_entries << " entries; "
                  << status.error_message() << ")\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::cout << "\nhistory of booking " << booking_id << " (from history-service):\n";
    for (const auto& e : response.entries()) {
      std::string metadata;
      (void)google::protobuf::util::MessageToJsonString(e.metadata(), &metadata);
      std::cout << "  #" << e.sequence() << "  "
                << google::protobuf::util::TimeUtil::ToString(e.create_time()) << "  "
                << (e.from_status().empty() ? "(new)" : e.from_status()) << " -> " << e.to_status()
                << "  by " << e.changed_by() << "  \"" << e.reason() << "\"  " << metadata << "\n";
    }
    return 0;
  }

  std::unique_ptr<v1::BookingService::Stub> bookings_;
  std::unique_ptr<history::v1::HistoryService::Stub> history_;
  const std::string token_;
};

}  // namespace
}  // namespace booking

int main(int argc, char** argv) {
  booking::ParseFlags(argc, argv, booking::kUsage);
  // --tls-cert/--tls-key (our client identity), --tls-ca (verifies the
  // services), or --insecure-plaintext: as the services take them.
  absl::StatusOr<booking::TlsSettings> tls = booking::TlsSettingsFromFlags("BOOKING_DEMO");
  if (!tls.ok()) {
    booking::LogError(tls.status().message());
    return booking::kExitUsage;
  }
  const auto credentials = booking::ChannelCredentialsFor(*tls);
  booking::Demo demo(grpc::CreateChannel(absl::GetFlag(FLAGS_booking_target), credentials),
                     grpc::CreateChannel(absl::GetFlag(FLAGS_history_target), credentials),
                     booking::FlagOrEnv(FLAGS_token, "BOOKING_TOKEN"));
  const std::string booking_id = absl::GetFlag(FLAGS_booking_id);
  if (!booking_id.empty()) return demo.Show(booking_id, absl::GetFlag(FLAGS_change_to));
  return demo.Run();
}
