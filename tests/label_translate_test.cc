// Translation of enum literals in definitions PostgreSQL prints: what lets
// contract keep partial indexes, views and defaults meaning the same thing.
#include "migrator/label_translate.h"

#include "gtest/gtest.h"

namespace booking::migrator {
namespace {

constexpr char kOld[] = "\"BookingStatus\"";
constexpr char kNew[] = "\"BookingStatus_new\"";

std::string Forward(const std::string& sql) {
  auto out = TranslateLabels(sql, kOld, kNew, ForwardPreimage);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

TEST(TranslateLabels, OneToOneLabelsAreRenamed) {
  EXPECT_EQ(Forward("(status = 'JOCKEY_ASSIGNED'::\"BookingStatus\")"),
            "(status = 'PICKUP_ASSIGNED'::\"BookingStatus_new\")");
  EXPECT_EQ(Forward("'PENDING_PAYMENT'::\"BookingStatus\""),
            "'PENDING_PAYMENT'::\"BookingStatus_new\"");
}

TEST(TranslateLabels, AnOldLabelStandingForSeveralBecomesAnAnyOrAll) {
  EXPECT_EQ(Forward("(status = 'IN_WORKSHOP'::\"BookingStatus\")"),
            "(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus_new\", "
            "'IN_SERVICE'::\"BookingStatus_new\"]))");
  EXPECT_EQ(Forward("(status <> 'IN_TRANSIT_TO_CUSTOMER'::\"BookingStatus\")"),
            "(status <> ALL (ARRAY['RETURN_ASSIGNED'::\"BookingStatus_new\", "
            "'RETURNED'::\"BookingStatus_new\"]))");
}

TEST(TranslateLabels, ArrayListsGrow) {
  EXPECT_EQ(Forward("(status = ANY (ARRAY['CONFIRMED'::\"BookingStatus\", "
                    "'IN_WORKSHOP'::\"BookingStatus\", 'COMPLETED'::\"BookingStatus\"]))"),
            "(status = ANY (ARRAY['CONFIRMED'::\"BookingStatus_new\", "
            "'AT_WORKSHOP'::\"BookingStatus_new\", 'IN_SERVICE'::\"BookingStatus_new\", "
            "'READY_FOR_RETURN'::\"BookingStatus_new\"]))");
}

TEST(TranslateLabels, OtherTypesAndTextAreLeftAlone) {
  EXPECT_EQ(Forward("(note = 'IN_WORKSHOP'::text)"), "(note = 'IN_WORKSHOP'::text)");
  EXPECT_EQ(Forward("(status = 'IN_WORKSHOP'::\"Other\")"), "(status = 'IN_WORKSHOP'::\"Other\")");
}

TEST(TranslateLabels, ASeveralLabelLiteralOutsideAComparisonIsRefused) {
  auto out = TranslateLabels("CASE WHEN x THEN 'IN_WORKSHOP'::\"BookingStatus\" END", kOld, kNew,
                             ForwardPreimage);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TranslateLabels, OrderingComparisonsAreRefused) {
  auto out = TranslateLabels("(status >= 'COMPLETED'::\"BookingStatus\")", kOld, kNew,
                             ForwardPreimage);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TranslateLabels, ReverseMapsNewLabelsBack) {
  auto out = TranslateLabels(
      "(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus\", 'IN_SERVICE'::\"BookingStatus\"]))",
      kOld, kNew, ReverseImage);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            "(status = ANY (ARRAY['IN_WORKSHOP'::\"BookingStatus_new\", "
            "'IN_WORKSHOP'::\"BookingStatus_new\"]))");
}

TEST(LabelMaps, FollowTheCatalog) {
  EXPECT_EQ(ForwardPreimage("COMPLETED"), std::vector<std::string>{"READY_FOR_RETURN"});
  EXPECT_EQ(ForwardPreimage("CONFIRMED"), std::vector<std::string>{"CONFIRMED"});
  EXPECT_EQ(ReverseImage("RETURNED"), std::vector<std::string>{"IN_TRANSIT_TO_CUSTOMER"});
  EXPECT_EQ(ReverseImage("CANCELLED"), std::vector<std::string>{"CANCELLED"});
  EXPECT_EQ(ReverseImage("IN_WORKSHOP"), std::vector<std::string>{"IN_WORKSHOP"});
}

}  // namespace
}  // namespace booking::migrator
