// entry_check.h: the canonical bytes read back exactly (random rows round
// trip; malformed bytes refused naming the field), and an entry shown as
// any other row refused naming the field.
#include "history-service/entry_check.h"

#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "history-service/verify_booking.h"

namespace booking {
namespace {

std::optional<std::string> MaybeText(std::mt19937_64& rng, bool nullable) {
  if (nullable && rng() % 4 == 0) return std::nullopt;
  std::string s;
  const int n = static_cast<int>(rng() % 12);
  // Bytes that look like the encoding itself: lengths, colons, tags.
  const std::string alphabet = "v:n0123456789abc{}\"";
  for (int i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

RowContent RandomRow(std::mt19937_64& rng) {
  RowContent c;
  c.event_id = *MaybeText(rng, false);
  c.booking_id = *MaybeText(rng, false);
  c.sequence = static_cast<int64_t>(rng() >> 1) % 1000000 + 1;
  c.from_status = MaybeText(rng, true);
  c.to_status = *MaybeText(rng, false);
  c.changed_by = MaybeText(rng, true);
  c.reason = MaybeText(rng, true);
  c.metadata = MaybeText(rng, true);
  c.created_micros = static_cast<int64_t>(rng()) % 4000000000000000;  // either sign
  return c;
}

TEST(ParseCanonical, RandomRowsRoundTrip) {
  std::mt19937_64 rng(2022);
  for (int i = 0; i < 20000; ++i) {
    const RowContent c = RandomRow(rng);
    absl::StatusOr<RowContent> back = ParseCanonical(Canonical(c));
    ASSERT_TRUE(back.ok()) << back.status() << " " << Canonical(c);
    ASSERT_EQ(*back, c) << Canonical(c);
  }
}

TEST(ParseCanonical, EveryTruncationAndExtensionIsRefused) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const std::string bytes = Canonical(RandomRow(rng));
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      EXPECT_FALSE(ParseCanonical(bytes.substr(0, cut)).ok()) << bytes.substr(0, cut);
    }
    EXPECT_FALSE(ParseCanonical(bytes + "n").ok());
  }
}

TEST(ParseCanonical, MalformedFieldsAreNamed) {
  const std::pair<std::string, std::string> cases[] = {
      {"bsh2", "bsh1"},
      {"bsh1v1:e", "booking_id: missing"},
      {"bsh1v1:ev1:bv02:12", "sequence: its length is not a decimal"},
      {"bsh1v1:ev1:bv2:-1", "sequence: not a decimal number"},
      {"bsh1v1:ev1:bv2:01", "sequence: not a decimal number"},
      {"bsh1v1:ev1:bv1:1x", "from_status: neither NULL"},
      {"bsh1v1:ev1:bv1:1nn", "to_status: NULL where a value is required"},
      {"bsh1v1:ev1:bv1:1nv1:Tnnnv2:-0", "created_micros: not a decimal number"},
      {"bsh1v1:ev1:bv1:1nv1:Tnnnv20:99999999999999999999", "created_micros: not a decimal"},
      {"bsh1v1:ev1:bv1:1nv1:Tnnnv99:1", "created_micros: shorter than its length"},
      {"bsh1v1:ev1:bv1:1nv1:Tnnnv2:-5n", "go on after the row"},
  };
  for (const auto& [bytes, why] : cases) {
    absl::StatusOr<RowContent> r = ParseCanonical(bytes);
    ASSERT_FALSE(r.ok()) << bytes;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bytes;
    EXPECT_TRUE(absl::StrContains(r.status().message(), why)) << bytes << ": " << r.status();
  }
  EXPECT_TRUE(ParseCanonical("bsh1v1:ev1:bv1:1nv1:Tnnnv2:-5").ok());
}

history::v1::VerifiedRow Shown(const RowContent& c) {
  history::v1::VerifiedRow row;
  ToVerifiedRow({.content = c, .row_hash = std::string(32, 'h')}, &row);
  return row;
}

TEST(CheckEntryShowsCanonical, TheServersOwnAnswerPassesAndEveryAlteredFieldIsNamed) {
  RowContent c{.event_id = "8c4f7a52-3d6f-4f55-9a4e-1b2c3d4e5f60",
               .booking_id = "b-1",
               .sequence = 3,
               .from_status = "CONFIRMED",
               .to_status = "PICKED_UP",
               .changed_by = "driver-7",
               .reason = std::nullopt,
               .metadata = R"({"km": 12, "note": "gate"})",
               .created_micros = 1765000000123456,
               .trace_parent = ""};
  const history::v1::VerifiedRow row = Shown(c);
  ASSERT_TRUE(CheckEntryShowsCanonical(row.entry(), row.canonical()).ok());
  using Entry = history::v1::HistoryEntry;
  const std::pair<const char*, std::function<void(Entry&)>> alterations[] = {
      {"event_id", [](Entry& e) { e.set_event_id("8c4f7a52-3d6f-4f55-9a4e-1b2c3d4e5f61"); }},
      {"booking_id", [](Entry& e) { e.set_booking_id("b-2"); }},
      {"sequence", [](Entry& e) { e.set_sequence(4); }},
      {"from_status", [](Entry& e) { e.set_from_status(""); }},
      {"to_status", [](Entry& e) { e.set_to_status("CANCELLED"); }},
      {"changed_by", [](Entry& e) { e.set_changed_by("admin"); }},
      {"reason", [](Entry& e) { e.set_reason("refund"); }},
      {"create_time", [](Entry& e) { e.mutable_create_time()->set_nanos(123457000); }},
      {"create_time", [](Entry& e) { e.mutable_create_time()->set_nanos(123456001); }},
      {"metadata", [](Entry& e) { e.clear_metadata(); }},
      {"metadata",
       [](Entry& e) { (*e.mutable_metadata()->mutable_fields())["km"].set_number_value(13); }},
  };
  for (const auto& [field, alter] : alterations) {
    Entry forged = row.entry();
    alter(forged);
    const absl::Status s = CheckEntryShowsCanonical(forged, row.canonical());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << field;
    EXPECT_TRUE(absl::StrContains(s.message(), absl::StrCat("shows ", field))) << s;
  }
  const absl::Status malformed = CheckEntryShowsCanonical(row.entry(), row.canonical() + "x");
  EXPECT_EQ(malformed.code(), absl::StatusCode::kDataLoss) << malformed;
}

TEST(CheckEntryShowsCanonical, RandomRowsShownByTheServerPass) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    RowContent c = RandomRow(rng);
    if (rng() % 2)
      c.metadata = absl::StrCat(R"({"k": )", rng() % 1000, "}");
    else
      c.metadata = std::nullopt;  // shown rows carry JSON objects only
    const history::v1::VerifiedRow row = Shown(c);
    ASSERT_TRUE(CheckEntryShowsCanonical(row.entry(), row.canonical()).ok()) << row.canonical();
  }
}

}  // namespace
}  // namespace booking
