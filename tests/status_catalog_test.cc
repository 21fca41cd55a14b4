// The status catalog against the design's state machine, written out here a
// second time on purpose: every ordered pair of statuses is checked.
#include "common/status_catalog.h"

#include <set>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace booking {
namespace {

using Pair = std::pair<std::string, std::string>;

const std::set<Pair>& DesignTransitions() {
  static const std::set<Pair> kAllowed = {
      {"PENDING_PAYMENT", "CONFIRMED"},        {"PENDING_PAYMENT", "CANCELLED"},
      {"CONFIRMED", "PICKUP_ASSIGNED"},        {"CONFIRMED", "CANCELLED"},
      {"PICKUP_ASSIGNED", "PICKED_UP"},        {"PICKUP_ASSIGNED", "CONFIRMED"},
      {"PICKUP_ASSIGNED", "CANCELLED"},        {"PICKED_UP", "AT_WORKSHOP"},
      {"AT_WORKSHOP", "IN_SERVICE"},           {"IN_SERVICE", "READY_FOR_RETURN"},
      {"READY_FOR_RETURN", "RETURN_ASSIGNED"}, {"RETURN_ASSIGNED", "RETURNED"},
      {"RETURN_ASSIGNED", "READY_FOR_RETURN"}, {"RETURNED", "DELIVERED"},
  };
  return kAllowed;
}

TEST(StatusCatalog, EveryOrderedPairMatchesTheDesign) {
  int checked = 0;
  for (Status from : AllStatuses()) {
    for (Status to : AllStatuses()) {
      const Pair pair(std::string(Label(from)), std::string(Label(to)));
      EXPECT_EQ(IsTransitionAllowed(from, to), DesignTransitions().count(pair) == 1)
          << pair.first << " -> " << pair.second;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 121);
}

TEST(StatusCatalog, AllowedNextListsExactlyTheAllowedTargets) {
  for (Status from : AllStatuses()) {
    std::set<std::string> expected;
    for (const auto& [f, t] : DesignTransitions()) {
      if (f == Label(from)) expected.insert(t);
    }
    std::set<std::string> actual;
    for (Status s : AllowedNext(from)) actual.insert(std::string(Label(s)));
    EXPECT_EQ(actual, expected) << Label(from);
  }
}

TEST(StatusCatalog, OnlyDeliveredAndCancelledAreFinal) {
  for (Status s : AllStatuses()) {
    EXPECT_EQ(IsFinal(s), s == Status::kDelivered || s == Status::kCancelled) << Label(s);
  }
  EXPECT_EQ(DescribeAllowedNext(Status::kDelivered), "none: DELIVERED is final");
  EXPECT_EQ(DescribeAllowedNext(Status::kPickupAssigned), "PICKED_UP, CONFIRMED, CANCELLED");
}

TEST(StatusCatalog, LabelsRoundTrip) {
  EXPECT_EQ(AllStatuses().size(), 11u);
  for (Status s : AllStatuses()) EXPECT_EQ(ParseStatus(Label(s)), s);
  for (LegacyStatus s : AllLegacyStatuses()) EXPECT_EQ(ParseLegacyStatus(Label(s)), s);
  EXPECT_FALSE(ParseStatus("JOCKEY_ASSIGNED").has_value());
  EXPECT_FALSE(ParseLegacyStatus("PICKUP_ASSIGNED").has_value());
  EXPECT_FALSE(ParseStatus("pending_payment").has_value());
}

TEST(StatusCatalog, ForwardMappingIsTheDesigns) {
  const std::pair<const char*, const char*> expected[] = {
      {"JOCKEY_ASSIGNED", "PICKUP_ASSIGNED"},
      {"IN_TRANSIT_TO_WORKSHOP", "PICKED_UP"},
      {"IN_WORKSHOP", "AT_WORKSHOP"},
      {"COMPLETED", "READY_FOR_RETURN"},
      {"IN_TRANSIT_TO_CUSTOMER", "RETURN_ASSIGNED"},
  };
  for (const auto& [old_label, new_label] : expected) {
    auto legacy = ParseLegacyStatus(old_label);
    ASSERT_TRUE(legacy.has_value()) << old_label;
    EXPECT_EQ(Label(MapForward(*legacy)), new_label);
    auto resolved = ResolveStoredLabel(old_label);
    ASSERT_TRUE(resolved.ok());
    EXPECT_EQ(Label(*resolved), new_label);
  }
  // Unchanged labels read as themselves.
  for (const char* same : {"PENDING_PAYMENT", "CONFIRMED", "DELIVERED", "CANCELLED"}) {
    EXPECT_EQ(Label(*ResolveStoredLabel(same)), same);
  }
  EXPECT_FALSE(ResolveStoredLabel("LOST_IN_SPACE").ok());
}

TEST(StatusCatalog, ReverseMappingIsTheDesigns) {
  const std::pair<Status, const char*> expected[] = {
      {Status::kPendingPayment, "PENDING_PAYMENT"},
      {Status::kConfirmed, "CONFIRMED"},
      {Status::kPickupAssigned, "JOCKEY_ASSIGNED"},
      {Status::kPickedUp, "IN_TRANSIT_TO_WORKSHOP"},
      {Status::kAtWorkshop, "IN_WORKSHOP"},
      {Status::kInService, "IN_WORKSHOP"},
      {Status::kReadyForReturn, "COMPLETED"},
      {Status::kReturnAssigned, "IN_TRANSIT_TO_CUSTOMER"},
      {Status::kReturned, "IN_TRANSIT_TO_CUSTOMER"},
      {Status::kDelivered, "DELIVERED"},
      {Status::kCancelled, "CANCELLED"},
  };
  for (const auto& [status, old_label] : expected) {
    EXPECT_EQ(ReverseLabel(status), old_label) << Label(status);
  }
}

TEST(StatusCatalog, LabelsReadingAsIncludeOldNames) {
  auto labels = LabelsReadingAs(Status::kAtWorkshop);
  EXPECT_EQ(std::set<absl::string_view>(labels.begin(), labels.end()),
            (std::set<absl::string_view>{"AT_WORKSHOP", "IN_WORKSHOP"}));
  // IN_SERVICE is stored as IN_WORKSHOP during a rollback, the exact status kept.
  labels = LabelsReadingAs(Status::kInService);
  EXPECT_EQ(labels, (std::vector<absl::string_view>{"IN_SERVICE", "IN_WORKSHOP"}));
}

TEST(StatusCatalog, AnExactStatusKeptBesideAnOldLabelWinsWhenItReadsBackAsIt) {
  EXPECT_EQ(*ResolveStoredLabel("IN_WORKSHOP", "IN_SERVICE"), Status::kInService);
  EXPECT_EQ(*ResolveStoredLabel("IN_WORKSHOP", ""), Status::kAtWorkshop);
  EXPECT_EQ(*ResolveStoredLabel("IN_TRANSIT_TO_CUSTOMER", "RETURNED"), Status::kReturned);
  // A stale exact status (the row moved on to another label) is ignored.
  EXPECT_EQ(*ResolveStoredLabel("COMPLETED", "IN_SERVICE"), Status::kReadyForReturn);
  EXPECT_EQ(*ResolveStoredLabel("CANCELLED", "garbage"), Status::kCancelled);
}

}  // namespace
}  // namespace booking
