// W3C traceparent parsing and continuation (common/trace_context.h), against
// the specification's own examples and its rules for malformed headers.
#include "common/trace_context.h"

#include <set>

#include "gtest/gtest.h"

namespace booking {
namespace {

constexpr char kSpecExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, ParsesTheSpecificationsExample) {
  std::optional<TraceContext> t = ParseTraceparent(kSpecExample);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, "01");
  EXPECT_EQ(t->ToTraceparent(), kSpecExample);
}

TEST(TraceContext, RefusesMalformedHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // v00 too long
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",   // flags not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // v01 no '-'
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContext, AcceptsALaterVersionByItsFirstFields) {
  std::optional<TraceContext> t =
      ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->ToTraceparent(), kSpecExample);  // passed on as version 00
}

TEST(TraceContext, AChildKeepsTheTraceAndFlagsWithANewSpan) {
  const TraceContext parent = *ParseTraceparent(kSpecExample);
  const TraceContext child = ChildOf(parent);
  EXPECT_EQ(child.trace_id, parent.trace_id);
  EXPECT_NE(child.parent_id, parent.parent_id);
  EXPECT_EQ(child.flags, "01");
  ASSERT_TRUE(ParseTraceparent(child.ToTraceparent()).has_value());
  const TraceContext unsampled =
      ChildOf(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0a"));
  EXPECT_EQ(unsampled.flags, "00");  // 0x0a: sampled bit clear, the rest not passed on
  EXPECT_EQ(
      ChildOf(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b")).flags,
      "01");
}

TEST(TraceContext, WithoutAParentANewValidTraceEachTime) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const TraceContext root = ChildOf(std::nullopt);
    ASSERT_TRUE(ParseTraceparent(root.ToTraceparent()).has_value()) << root.ToTraceparent();
    ids.insert(root.trace_id);
    EXPECT_EQ(root.flags, "00");  // started here: not sampled
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(TraceContext, SampledIsTheFlagsLowBitOfAValidTraceparent) {
  EXPECT_TRUE(IsSampled(kSpecExample));
  EXPECT_TRUE(IsSampled("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b"));
  EXPECT_FALSE(IsSampled("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  EXPECT_FALSE(IsSampled("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0a"));
  EXPECT_FALSE(IsSampled("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(IsSampled(""));
}

}  // namespace
}  // namespace booking
