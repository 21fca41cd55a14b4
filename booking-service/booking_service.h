// booking.v1.BookingService: validates requests, identifies the caller and
// hands the work to BookingStore.
#ifndef BOOKING_SERVICE_BOOKING_SERVICE_H_
#define BOOKING_SERVICE_BOOKING_SERVICE_H_

#include "booking-service/auth.h"
#include "booking-service/booking_store.h"
#include "booking-service/status_wire.h"
#include "booking/v1/booking.grpc.pb.h"

namespace booking {

// Thread safe (gRPC calls it from many threads).
class BookingServiceImpl final : public v1::BookingService::Service {
 public:
  BookingServiceImpl(BookingStore& store, const Authenticator& auth, LegacyNames legacy_names);

  grpc::Status CreateBooking(grpc::ServerContext* context, const v1::CreateBookingRequest* request,
                             v1::Booking* response) override;
  grpc::Status GetBooking(grpc::ServerContext* context, const v1::GetBookingRequest* request,
                          v1::Booking* response) override;
  grpc::Status ListBookings(grpc::ServerContext* context, const v1::ListBookingsRequest* request,
                            v1::ListBookingsResponse* response) override;
  grpc::Status ChangeStatus(grpc::ServerContext* context, const v1::ChangeStatusRequest* request,
                            v1::ChangeStatusResponse* response) override;
  grpc::Status CreateExtension(grpc::ServerContext* context,
                               const v1::CreateExtensionRequest* request,
                               v1::CreateExtensionResponse* response) override;

 private:
  // Authenticates the caller, checks the request (request_checks.h) and
  // fills a Mutation for the store.
  template <typename Request>
  absl::StatusOr<Mutation> MutationFor(grpc::ServerContext& context, const Request& request,
                                       const std::string& reason);
  // The call's outcome as the caller gets it (counted by method and code in
  // grpc_server_handled_total, common/rpc_metrics.h).
  grpc::Status Finish(absl::string_view method, const absl::Status& status);

  BookingStore& store_;
  const Authenticator& auth_;
  const LegacyNames legacy_names_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_BOOKING_SERVICE_H_
