// Poison input, as a careless or hostile caller sends it: each kind is either
// refused at the API (INVALID_ARGUMENT naming the field, nothing committed)
// or, when it reaches the outbox some other way (old code, a hand-written
// row), set aside alone with its reason, while every event before and after
// it reaches history. Also: a 3 MB value is not logged whole, and a backlog
// of large events (more bytes than one gRPC message may carry) is delivered.
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"

namespace booking::testing {
namespace {

// A Struct nested `depth` levels deep.
google::protobuf::Struct Nested(int depth) {
  google::protobuf::Struct root;
  google::protobuf::Struct* at = &root;
  for (int i = 1; i < depth; ++i) {
    at = (*at->mutable_fields())["n"].mutable_struct_value();
  }
  (*at->mutable_fields())["leaf"].set_string_value("x");
  return root;
}

// The field of the BadRequest violation of an INVALID_ARGUMENT, or why not.
std::string ViolatedField(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::StrCat("code ", status.error_code(), ": ", status.error_message());
  }
  google::rpc::BadRequest bad;
  if (!FindDetail(status, &bad) || bad.field_violations_size() == 0) return "no field violation";
  return bad.field_violations(0).field();
}

class PoisonTest : public StackSuite {
 protected:
  static void SetUpTestSuite() { StartStack("poison"); }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StackSuite::SetUp());
    bookings_ = v1::BookingService::NewStub(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Create(const v1::CreateBookingRequest& request, v1::Booking* out = nullptr) {
    v1::Booking ignored;
    return bookings_->CreateBooking(AuthedContext(ServiceSet::kToken).get(), request,
                                    out != nullptr ? out : &ignored);
  }
  // A booking created and moved one step through the API: two events.
  std::string CreateAndConfirm(const std::string& id) {
    v1::CreateBookingRequest create;
    create.set_booking_id(id);
    create.set_customer_id("customer-1");
    EXPECT_TRUE(Create(create).ok());
    v1::ChangeStatusRequest change;
    change.set_booking_id(id);
    change.set_target_status(v1::CONFIRMED);
    v1::ChangeStatusResponse response;
    EXPECT_TRUE(
        bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), change, &response).ok());
    return id;
  }
  // Raw bytes to a method: what a client with another .proto (or none) sends.
  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    auto context = AuthedContext(ServiceSet::kToken);
    return booking::testing::RawCall(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()),
        context.get(), method, bytes);
  }

  std::unique_ptr<v1::BookingService::Stub> bookings_;
};

// One poisoned CreateBooking request and the field its refusal must name.
struct PoisonCase {
  std::string name;
  v1::CreateBookingRequest request;
  std::string field;
};

// Each kind of poison the API refuses, one request each.
std::vector<PoisonCase> PoisonCases() {
  std::vector<PoisonCase> cases;
  auto base = [](const std::string& id) {
    v1::CreateBookingRequest r;
    r.set_booking_id(id);
    r.set_customer_id("customer-1");
    return r;
  };
  {
    PoisonCase c{"metadata nested 32 levels", base("poison-nested"), "metadata"};
    *c.request.mutable_metadata() = Nested(32);
    cases.push_back(c);
  }
  {
    PoisonCase c{"metadata string holding NUL", base("poison-nul-value"), "metadata"};
    (*c.request.mutable_metadata()->mutable_fields())["k"].set_string_value(std::string("a\0b", 3));
    cases.push_back(c);
  }
  {
    PoisonCase c{"metadata key holding NUL", base("poison-nul-key"), "metadata"};
    (*c.request.mutable_metadata()->mutable_fields())[std::string("k\0k", 3)].set_bool_value(true);
    cases.push_back(c);
  }
  {
    PoisonCase c{"metadata number NaN", base("poison-nan"), "metadata"};
    (*c.request.mutable_metadata()->mutable_fields())["n"].set_number_value(std::nan(""));
    cases.push_back(c);
  }
  {
    PoisonCase c{"metadata over 16 KiB", base("poison-big-metadata"), "metadata"};
    (*c.request.mutable_metadata()->mutable_fields())["k"].set_string_value(
        std::string(17000, 'm'));
    cases.push_back(c);
  }
  cases.push_back({"booking id holding NUL", base(std::string("ab\0cd", 5)), "booking_id"});
  cases.push_back({"booking id with a space", base("ab cd"), "booking_id"});
  cases.push_back({"booking id over 200 bytes", base(std::string(201, 'b')), "booking_id"});
  {
    PoisonCase c{"request id holding NUL", base("poison-request-id"), "request_id"};
    c.request.set_request_id(std::string("r-1\0x", 5));
    cases.push_back(c);
  }
  {
    PoisonCase c{"customer id empty", base("poison-customer"), "customer_id"};
    c.request.clear_customer_id();
    cases.push_back(c);
  }
  {
    PoisonCase c{"reason over 1000 bytes", base("poison-reason"), "reason"};
    c.request.set_reason(std::string(1001, 'r'));
    cases.push_back(c);
  }
  {
    PoisonCase c{"reason holding NUL", base("poison-reason-nul"), "reason"};
    c.request.set_reason(std::string("a\0b", 3));
    cases.push_back(c);
  }
  return cases;
}

TEST_F(PoisonTest, ApiRefusesEachPoisonKindNamingTheFieldAndCommitsNothing) {
  const int64_t outbox_before =
      QueryCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")");
  for (const PoisonCase& c : PoisonCases()) {
    EXPECT_EQ(ViolatedField(Create(c.request)), c.field) << c.name;
  }
  // "ab\0cd" did not create "ab".
  v1::GetBookingRequest get;
  get.set_booking_id("ab");
  v1::Booking got;
  EXPECT_EQ(bookings_->GetBooking(AuthedContext(ServiceSet::kToken).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(QueryCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")"),
            outbox_before);
  EXPECT_EQ(
      QueryCount(set_->booking_url(), R"(SELECT count(*) FROM "Booking" WHERE id LIKE 'poison%')"),
      0);
}

TEST_F(PoisonTest, RequestIdsDifferingAfterANulDoNotReplayEachOther) {
  v1::CreateBookingRequest a;
  a.set_booking_id("nul-replay-a");
  a.set_customer_id("customer-1");
  a.set_request_id(std::string("same\0one", 8));
  v1::CreateBookingRequest b = a;
  b.set_booking_id("nul-replay-b");
  b.set_request_id(std::string("same\0two", 8));
  EXPECT_EQ(ViolatedField(Create(a)), "request_id");
  EXPECT_EQ(ViolatedField(Create(b)), "request_id");
}

TEST_F(PoisonTest, PageTokenNotUtf8IsInvalidArgument) {
  v1::ListBookingsRequest list;
  list.set_page_token(absl::WebSafeBase64Escape("\xff\xfe\x00x"));
  v1::ListBookingsResponse page;
  EXPECT_EQ(
      ViolatedField(bookings_->ListBookings(AuthedContext(ServiceSet::kToken).get(), list, &page)),
      "page_token");
}

TEST_F(PoisonTest, UnparseableMessagesAreInvalidArgumentWithAMessage) {
  // Not protobuf at all; and a customer_id (field 2) that is not UTF-8.
  for (const std::string& bytes :
       {std::string("\xff\xff\xff\xff\x0f garbage"), std::string("\x12\x02\xff\xfe", 4)}) {
    grpc::Status status = RawCall("/booking.v1.BookingService/CreateBooking", bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
  }
}

// Outbox rows no API call could have written, between good events: each is
// set aside alone with its reason; everything else reaches history.
TEST_F(PoisonTest, PoisonInTheOutboxIsSetAsideAloneAndTheRestFlows) {
  const std::string& url = set_->booking_url();
  std::vector<std::string> good;
  for (int i = 0; i < 3; ++i) good.push_back(CreateAndConfirm(absl::StrCat("flow-before-", i)));
  // Nested 32 levels: the Struct's JSON is 32 objects deep.
  std::string nested = R"({"leaf": "x"})";
  for (int i = 1; i < 32; ++i) nested = absl::StrCat(R"({"n": )", nested, "}");
  const std::vector<std::pair<std::string, std::string>> poison = {
      {"nested-metadata", absl::StrCat("'CONFIRMED', 'x', NULL, '", nested, "'")},
      {"unknown-status", "'NOT_A_STATUS', 'x', NULL, NULL"},
      {"huge-status", "repeat('S', 3000000), 'x', NULL, NULL"},
      {"long-changed-by", "'CONFIRMED', repeat('c', 300), NULL, NULL"},
      {"long-reason", "'CONFIRMED', 'x', repeat('r', 2000), NULL"},
      {"big-metadata", R"('CONFIRMED', 'x', NULL, jsonb_build_object('k', repeat('m', 20000)))"},
      {"nul-escape", R"('CONFIRMED', 'x', NULL, '{"k": "a\u0000b"}'::json::jsonb)"},
  };
  // (\u0000 is refused by jsonb itself; then that row is not written and
  // nothing is to be set aside for it.)
  int written = 0;
  for (const auto& [name, values] : poison) {
    try {
      Exec(url, absl::StrCat(R"(INSERT INTO "BookingOutbox"
                  ("bookingId", sequence, "toStatus", "changedBy", reason, metadata)
                  VALUES ('poison-)",
                             name, "', 1, ", values, ")"));
      ++written;
    } catch (const pqxx::sql_error&) {
      EXPECT_EQ(name, "nul-escape");
    }
  }
  Exec(url, "NOTIFY booking_outbox");
  for (int i = 0; i < 3; ++i) good.push_back(CreateAndConfirm(absl::StrCat("flow-after-", i)));

  ASSERT_TRUE(WaitForCount(url, R"(SELECT count(*) FROM "BookingOutbox")", 0, absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingOutboxRejected"
                          WHERE "bookingId" LIKE 'poison-%' AND "rejectReason" <> '')"),
            written);
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                         WHERE "bookingId" LIKE 'poison-%')"),
            0);
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                         WHERE "bookingId" LIKE 'flow-%')"),
            2 * static_cast<int64_t>(good.size()));
  // The 3 MB label is in the logs cut, not whole.
  for (const std::string& log :
       {set_->log_dir() + "/history.log", set_->log_dir() + "/booking.log"}) {
    std::ifstream in(log);
    std::string line;
    size_t longest = 0;
    while (std::getline(in, line)) longest = std::max(longest, line.size());
    EXPECT_LT(longest, 8u * 1024) << log;
  }
}

// 500 events of 15 KiB metadata: 7.5 MB, more than one 4 MiB message. The
// relay cuts batches by bytes, so all of them reach history.
TEST_F(PoisonTest, ABacklogLargerThanOneMessageIsDelivered) {
  const std::string& url = set_->booking_url();
  Exec(url, R"(INSERT INTO "BookingOutbox"
                 ("bookingId", sequence, "toStatus", "changedBy", metadata)
               SELECT 'bulk-' || i, 1, 'CONFIRMED', 'loader',
                      jsonb_build_object('blob', repeat('b', 15000))
               FROM generate_series(1, 500) AS i)");
  Exec(url, "NOTIFY booking_outbox");
  ASSERT_TRUE(WaitForCount(url, R"(SELECT count(*) FROM "BookingOutbox")", 0, absl::Seconds(120)))
      << set_->Logs();
  EXPECT_EQ(
      QueryCount(url,
                 R"(SELECT count(*) FROM "BookingOutboxRejected" WHERE "bookingId" LIKE 'bulk-%')"),
      0);
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                         WHERE "bookingId" LIKE 'bulk-%')"),
            500);
}

// 200 entries of 15 KiB metadata: a page of 1,000 would be 3 MB. Pages end
// at about 1 MiB instead, and paging still yields every entry once, in order.
TEST_F(PoisonTest, HistoryPagesAreCutByBytesAndStillComplete) {
  Exec(set_->history_url(), R"(INSERT INTO "BookingStatusHistory"
         ("eventId", "bookingId", sequence, "toStatus", "changedBy", metadata, "createdAt")
       SELECT gen_random_uuid(), 'big-history', i, 'CONFIRMED', 'loader',
              jsonb_build_object('blob', repeat('h', 15000)), timezone('UTC', now())
       FROM generate_series(1, 200) AS i)");
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  history::v1::GetBookingHistoryRequest request;
  request.set_booking_id("big-history");
  request.set_page_size(1000);
  int64_t next = 1;
  int pages = 0;
  do {
    history::v1::GetBookingHistoryResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(stub->GetBookingHistory(&context, request, &page).ok());
    EXPECT_LE(page.ByteSizeLong(), 1100u * 1024);
    for (const auto& e : page.entries()) EXPECT_EQ(e.sequence(), next++);
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 50);
  EXPECT_EQ(next, 201);
  EXPECT_GE(pages, 3);
}

// A hostile Ingest caller's poison is rejected per event on an open stream;
// the stream carries on.
TEST_F(PoisonTest, IngestRejectsPoisonPerEventAndTheStreamCarriesOn) {
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Ingest(&context);
  auto event = [](const std::string& booking, const std::string& to) {
    history::v1::StatusChangeEvent e;
    static int n = 0;
    e.set_event_id(absl::StrCat("00000000-0000-4000-8000-", absl::StrFormat("%012d", ++n)));
    e.set_booking_id(booking);
    e.set_sequence(1);
    e.set_to_status(to);
    e.set_changed_by("ingest-test");
    e.mutable_change_time()->set_seconds(1700000000);
    return e;
  };
  history::v1::IngestRequest batch;
  batch.set_batch_id(1);
  *batch.add_events() = event("ingest-good-1", "CONFIRMED");
  *batch.add_events() = event("ingest-huge", std::string(3000000, 'S'));
  history::v1::StatusChangeEvent nested = event("ingest-nested", "CONFIRMED");
  *nested.mutable_metadata() = Nested(32);
  *batch.add_events() = nested;
  *batch.add_events() = event("ingest-good-2", "CONFIRMED");
  ASSERT_TRUE(stream->Write(batch));
  history::v1::IngestAck ack;
  ASSERT_TRUE(stream->Read(&ack)) << stream->Finish().error_message();
  EXPECT_EQ(ack.stored(), 2);
  ASSERT_EQ(ack.rejected_size(), 2);
  EXPECT_LT(ack.rejected(0).reason().size(), 1000u);
  batch.Clear();
  batch.set_batch_id(2);
  *batch.add_events() = event("ingest-good-3", "CONFIRMED");
  ASSERT_TRUE(stream->Write(batch));
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.stored(), 1);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace booking::testing
