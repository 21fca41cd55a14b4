// booking.v1 calls tests make as the local stack's own caller
// (ServiceSet::kToken): a confirmed booking created in one line.
#ifndef TESTS_SUPPORT_BOOKING_CLIENT_H_
#define TESTS_SUPPORT_BOOKING_CLIENT_H_

#include <string>

#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_client.h"
#include "tests/support/service_set.h"

namespace booking::testing {

// Creates a booking whose payment is settled (CONFIRMED) and returns its id;
// a failed call fails the test and returns "".
inline std::string CreateConfirmedBooking(v1::BookingService::StubInterface& stub,
                                          const std::string& customer_id = "customer-1") {
  v1::CreateBookingRequest request;
  request.set_customer_id(customer_id);
  request.set_payment_settled(true);
  v1::Booking booking;
  grpc::Status status =
      stub.CreateBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return booking.id();
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_BOOKING_CLIENT_H_
