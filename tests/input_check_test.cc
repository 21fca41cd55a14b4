// The limits on caller input (common/limits.h), checked as pure functions:
// the API's checks, history's event checks and the batch encoding agree, so
// nothing the API accepts is unstorable in history.
#include "common/input_check.h"

#include <cmath>
#include <string>

#include "booking-service/request_checks.h"
#include "common/limits.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "history-service/ingest_encoding.h"

namespace booking {
namespace {

google::protobuf::Struct Nested(int depth) {
  google::protobuf::Struct root;
  google::protobuf::Struct* at = &root;
  for (int i = 1; i < depth; ++i) at = (*at->mutable_fields())["n"].mutable_struct_value();
  (*at->mutable_fields())["leaf"].set_string_value("x");
  return root;
}

history::v1::StatusChangeEvent Event(const std::string& booking_id) {
  history::v1::StatusChangeEvent e;
  e.set_event_id("123e4567-e89b-42d3-a456-426614174000");
  e.set_booking_id(booking_id);
  e.set_sequence(1);
  e.set_to_status("CONFIRMED");
  e.set_changed_by("postgres via psql (local)");
  e.mutable_change_time()->set_seconds(1700000000);
  return e;
}

TEST(InputCheck, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // cut short
}

TEST(InputCheck, Ids) {
  EXPECT_TRUE(CheckId("id", "bk-00000733").ok());
  EXPECT_TRUE(CheckId("id", "", /*optional=*/true).ok());
  EXPECT_FALSE(CheckId("id", "").ok());
  EXPECT_FALSE(CheckId("id", std::string("ab\0cd", 5)).ok());
  EXPECT_FALSE(CheckId("id", "ab cd").ok());
  EXPECT_FALSE(CheckId("id", "caf\xc3\xa9").ok());
  EXPECT_TRUE(CheckId("id", std::string(limits::kMaxIdBytes, 'a')).ok());
  EXPECT_FALSE(CheckId("id", std::string(limits::kMaxIdBytes + 1, 'a')).ok());
}

TEST(InputCheck, MetadataDepthNulNumbersAndSize) {
  EXPECT_TRUE(MetadataToJson("m", Nested(limits::kMaxMetadataDepth)).ok());
  EXPECT_FALSE(MetadataToJson("m", Nested(limits::kMaxMetadataDepth + 1)).ok());
  EXPECT_FALSE(MetadataToJson("m", Nested(32)).ok());
  google::protobuf::Struct s;
  (*s.mutable_fields())["k"].set_string_value(std::string("a\0b", 3));
  EXPECT_FALSE(MetadataToJson("m", s).ok());
  s.Clear();
  (*s.mutable_fields())["n"].set_number_value(INFINITY);
  EXPECT_FALSE(MetadataToJson("m", s).ok());
  s.Clear();
  (*s.mutable_fields())["k"].set_string_value(std::string(limits::kMaxMetadataJsonBytes, 'x'));
  EXPECT_FALSE(MetadataToJson("m", s).ok());
  // Lists count as levels too.
  google::protobuf::Value deep;
  google::protobuf::Value* at = &deep;
  for (int i = 0; i < 40; ++i) at = at->mutable_list_value()->add_values();
  at->set_bool_value(true);
  s.Clear();
  (*s.mutable_fields())["l"] = deep;
  EXPECT_FALSE(MetadataToJson("m", s).ok());
  EXPECT_EQ(*MetadataToJson("m", google::protobuf::Struct()), "");
}

// The deepest metadata the API accepts is still encodable as a history event.
TEST(InputCheck, WhatTheApiAcceptsHistoryCanStore) {
  v1::CreateBookingRequest request;
  request.set_customer_id("c");
  *request.mutable_metadata() = Nested(limits::kMaxMetadataDepth);
  ASSERT_TRUE(CheckRequest(request).ok());
  history::v1::IngestRequest batch;
  *batch.add_events() = Event("bk-1");
  *batch.mutable_events(0)->mutable_metadata() = request.metadata();
  EncodedEvents encoded = EncodeEvents(batch);
  ASSERT_EQ(encoded.json.size(), 1u) << encoded.refused[0];
  google::protobuf::ListValue parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(JsonArray(encoded, {0}), &parsed).ok());
}

TEST(InputCheck, EventTraceparentIsEmptyOrW3C) {
  history::v1::StatusChangeEvent e = Event("bk-1");
  EXPECT_EQ(ValidateEvent(e), "");  // none: a change made outside a call
  e.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(ValidateEvent(e), "");
  e.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
  EXPECT_NE(ValidateEvent(e).find("traceparent"), std::string::npos);
  e.set_traceparent(std::string(3 << 20, 'a'));
  const std::string why = ValidateEvent(e);
  EXPECT_NE(why.find("traceparent"), std::string::npos);
  EXPECT_LT(why.size(), 200u);
}

// Stored to the millisecond, rounded: nothing may round out of 9999.
TEST(InputCheck, EventTimeStaysInRangeOnceRounded) {
  history::v1::StatusChangeEvent e = Event("bk-1");
  e.mutable_change_time()->set_seconds(google::protobuf::util::TimeUtil::kTimestampMaxSeconds);
  e.mutable_change_time()->set_nanos(999'499'999);
  EXPECT_EQ(ValidateEvent(e), "");
  e.mutable_change_time()->set_nanos(999'500'000);
  EXPECT_NE(ValidateEvent(e).find("change_time: rounds"), std::string::npos);
  e.mutable_change_time()->set_seconds(google::protobuf::util::TimeUtil::kTimestampMinSeconds);
  e.mutable_change_time()->set_nanos(0);
  EXPECT_EQ(ValidateEvent(e), "");
  e.mutable_change_time()->set_seconds(google::protobuf::util::TimeUtil::kTimestampMinSeconds - 1);
  EXPECT_NE(ValidateEvent(e).find("change_time: outside"), std::string::npos);
}

TEST(InputCheck, EncodingRefusesPerEventAndKeepsTheRest) {
  history::v1::IngestRequest batch;
  *batch.add_events() = Event("bk-1");
  *batch.add_events() = Event("bk-2");
  *batch.mutable_events(1)->mutable_metadata() = Nested(32);
  *batch.add_events() = Event("bk-3");
  batch.mutable_events(2)->set_to_status(std::string(3000000, 'S'));
  *batch.add_events() = Event(std::string("bk\0x", 4));
  *batch.add_events() = Event("bk 5 from old code");  // history keeps any text id
  EncodedEvents encoded = EncodeEvents(batch);
  EXPECT_EQ(encoded.refused[0], "");
  EXPECT_NE(encoded.refused[1], "");
  EXPECT_NE(encoded.refused[2], "");
  EXPECT_LT(encoded.refused[2].size(), 200u);  // the 3 MB label is not repeated
  EXPECT_NE(encoded.refused[3], "");
  EXPECT_EQ(encoded.refused[4], "");
  EXPECT_EQ(encoded.index, (std::vector<int>{0, 4}));
}

TEST(RequestChecks, PageTokens) {
  v1::ListBookingsRequest list;
  list.set_page_token(ListPageToken("bk-9"));
  auto page = CheckRequest(list);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->after_id, "bk-9");
  list.set_page_token("not base64 !");
  EXPECT_FALSE(CheckRequest(list).ok());
  list.set_page_token(ListPageToken("\xff\xfe"));
  EXPECT_FALSE(CheckRequest(list).ok());
}

}  // namespace
}  // namespace booking
