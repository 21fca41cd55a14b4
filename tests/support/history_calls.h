// A test's calls of history-service that several suites make: VerifyHistory
// of one booking (plaintext, no token), and waiting until the log took in
// every row of the store.
#ifndef TESTS_SUPPORT_HISTORY_CALLS_H_
#define TESTS_SUPPORT_HISTORY_CALLS_H_

#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/sql.h"

namespace booking::testing {

// The service's VerifyHistory of `booking` (a failed call fails the test).
inline history::v1::VerifyHistoryResponse VerifyHistoryOf(const std::string& target,
                                                          const std::string& booking) {
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  history::v1::VerifyHistoryRequest request;
  request.set_booking_id(booking);
  history::v1::VerifyHistoryResponse response;
  grpc::Status s = stub->VerifyHistory(&context, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response;
}

// Whether, within `timeout`, every history row of the store at `url` got its
// leaf in the log's tree.
inline bool WaitForEveryLeaf(const std::string& url, absl::Duration timeout = absl::Seconds(60)) {
  return WaitForCount(url, R"(SELECT count(*) FROM "BookingStatusHistory" h
                              WHERE NOT EXISTS (SELECT FROM "BookingStatusHistoryLeaf" l
                                                WHERE l."historyId" = h.id))",
                      0, timeout);
}

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_HISTORY_CALLS_H_
