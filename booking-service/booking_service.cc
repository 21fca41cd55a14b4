#include "booking-service/booking_service.h"

#include "absl/strings/str_cat.h"
#include "booking-service/request_checks.h"
#include "common/call_context.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/rpc_error.h"
#include "common/rpc_status.h"
#include "common/trace_context.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace booking {
namespace {

// The request without its request id, hashed: equal for a retry, different
// for another request reusing the id.
std::string Fingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

template <typename Request>
std::string FingerprintWithoutRequestId(const Request& request) {
  if (request.request_id().empty()) return "";
  Request copy = request;
  copy.clear_request_id();
  return Fingerprint(copy);
}

// One line per recorded change: its trace id finds it in the outbox, in
// history and in history-service's log.
void LogChange(const v1::Booking& booking, const Mutation& m) {
  LogInfo("booking status changed", {{"booking_id", booking.id()},
                                     {"to_status", v1::BookingStatus_Name(booking.status())},
                                     {"version", absl::StrCat(booking.version())},
                                     {"changed_by", m.caller},
                                     {"request_id", m.request_id},
                                     {"traceparent", m.traceparent}});
}

}  // namespace

BookingServiceImpl::BookingServiceImpl(BookingStore& store, const Authenticator& auth,
                                       LegacyNames legacy_names)
    : store_(store), auth_(auth), legacy_names_(legacy_names) {}

grpc::Status BookingServiceImpl::Finish(absl::string_view method, const absl::Status& status) {
  return ToCallerStatus(status, "booking.v1", absl::StrCat("booking.v1.BookingService/", method));
}

template <typename Request>
absl::StatusOr<Mutation> BookingServiceImpl::MutationFor(grpc::ServerContext& context,
                                                         const Request& request,
                                                         const std::string& reason) {
  // The caller first: an unauthenticated caller learns nothing from checks.
  absl::StatusOr<std::string> caller = auth_.Identify(context);
  if (!caller.ok()) return caller.status();
  absl::StatusOr<CheckedMutation> checked = CheckRequest(request);
  if (!checked.ok()) return checked.status();
  Mutation m;
  m.caller = *std::move(caller);
  m.request_id = request.request_id();
  m.fingerprint = FingerprintWithoutRequestId(request);
  m.reason = reason;
  m.metadata_json = std::move(checked->metadata_json);
  // This call's span of the caller's trace (or a new trace), stored with the
  // change's event and sent back so the caller can find the change by it.
  m.traceparent = TraceOfCall(context).ToTraceparent();
  context.AddInitialMetadata("traceparent", m.traceparent);
  return m;
}

grpc::Status BookingServiceImpl::CreateBooking(grpc::ServerContext* context,
                                               const v1::CreateBookingRequest* request,
                                               v1::Booking* response) {
  auto run = [&]() -> absl::Status {
    absl::StatusOr<Mutation> m = MutationFor(*context, *request, request->reason());
    if (!m.ok()) return m.status();
    const Status initial =
        request->payment_settled() ? Status::kConfirmed : Status::kPendingPayment;
    absl::StatusOr<v1::Booking> booking = store_.Create(
        request->booking_id(), request->customer_id(), initial, *m, DeadlineOf(*context));
    if (!booking.ok()) return booking.status();
    LogChange(*booking, *m);
    *response = *std::move(booking);
    return absl::OkStatus();
  };
  return Finish("CreateBooking", run());
}

grpc::Status BookingServiceImpl::GetBooking(grpc::ServerContext* context,
                                            const v1::GetBookingRequest* request,
                                            v1::Booking* response) {
  auto run = [&]() -> absl::Status {
    if (auto caller = auth_.Identify(*context); !caller.ok()) return caller.status();
    if (absl::Status s = CheckRequest(*request); !s.ok()) return s;
    absl::StatusOr<v1::Booking> booking = store_.Get(request->booking_id(), DeadlineOf(*context));
    if (!booking.ok()) return booking.status();
    *response = *std::move(booking);
    return absl::OkStatus();
  };
  return Finish("GetBooking", run());
}

grpc::Status BookingServiceImpl::ListBookings(grpc::ServerContext* context,
                                              const v1::ListBookingsRequest* request,
                                              v1::ListBookingsResponse* response) {
  auto run = [&]() -> absl::Status {
    if (auto caller = auth_.Identify(*context); !caller.ok()) return caller.status();
    absl::StatusOr<ListPage> page_request = CheckRequest(*request);
    if (!page_request.ok()) return page_request.status();
    std::optional<Status> filter;
    if (request->status() != v1::BOOKING_STATUS_UNSPECIFIED) {
      // Listing by an old name is harmless: always accepted.
      absl::StatusOr<Status> s = FromWire(request->status(), LegacyNames::kAccept, "status");
      if (!s.ok()) return s.status();
      filter = *s;
    }
    absl::StatusOr<v1::ListBookingsResponse> page =
        store_.List(filter, page_request->page_size, page_request->after_id, DeadlineOf(*context));
    if (!page.ok()) return page.status();
    *response = *std::move(page);
    if (!response->next_page_token().empty()) {
      response->set_next_page_token(ListPageToken(response->next_page_token()));
    }
    return absl::OkStatus();
  };
  return Finish("ListBookings", run());
}

grpc::Status BookingServiceImpl::ChangeStatus(grpc::ServerContext* context,
                                              const v1::ChangeStatusRequest* request,
                                              v1::ChangeStatusResponse* response) {
  auto run = [&]() -> absl::Status {
    absl::StatusOr<Mutation> m = MutationFor(*context, *request, request->reason());
    if (!m.ok()) return m.status();
    absl::StatusOr<Status> target =
        FromWire(request->target_status(), legacy_names_, "target_status");
    if (!target.ok()) return target.status();
    std::optional<int64_t> expected;
    if (request->has_expected_version()) expected = request->expected_version();
    absl::StatusOr<v1::ChangeStatusResponse> result =
        store_.ChangeStatus(request->booking_id(), *target, expected, *m, DeadlineOf(*context));
    if (!result.ok()) return result.status();
    if (result->changed()) LogChange(result->booking(), *m);
    *response = *std::move(result);
    return absl::OkStatus();
  };
  return Finish("ChangeStatus", run());
}

grpc::Status BookingServiceImpl::CreateExtension(grpc::ServerContext* context,
                                                 const v1::CreateExtensionRequest* request,
                                                 v1::CreateExtensionResponse* response) {
  auto run = [&]() -> absl::Status {
    absl::StatusOr<Mutation> m = MutationFor(*context, *request, "");
    if (!m.ok()) return m.status();
    absl::StatusOr<v1::CreateExtensionResponse> result =
        store_.CreateExtension(request->booking_id(), request->description(),
                               request->price_cents(), *m, DeadlineOf(*context));
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  };
  return Finish("CreateExtension", run());
}

}  // namespace booking
