// Rewriting the labels definitions name, phase by phase: what keeps views,
// partial indexes, checks, triggers, policies and defaults answering the
// same whichever label set rows hold. Definitions are as PostgreSQL 15
// prints them.
#include "migrator/status_enum/translate.h"

#include "gtest/gtest.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/plan.h"

namespace booking::migrator {
namespace {

constexpr char kType[] = "\"BookingStatus\"";

absl::StatusOr<std::string> Translate(
    const std::string& sql, DefinitionMode mode, const std::string& target_type = "",
    std::vector<std::pair<std::string, std::string>> renames = {}) {
  return TranslateDefinition(sql, {mode, kType, target_type, {"status"}, std::move(renames)});
}

std::string Ok(const std::string& sql, DefinitionMode mode) {
  absl::StatusOr<std::string> out = Translate(sql, mode);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

TEST(Translate, WidenedComparisonsAcceptTheOldLabelAndEveryNewOneReadingBackAsIt) {
  EXPECT_EQ(Ok("(status = 'IN_WORKSHOP'::\"BookingStatus\")", DefinitionMode::kWiden),
            "(status = ANY (ARRAY['IN_WORKSHOP'::\"BookingStatus\", "
            "'AT_WORKSHOP'::\"BookingStatus\", 'IN_SERVICE'::\"BookingStatus\"]))");
  EXPECT_EQ(Ok("(status <> 'JOCKEY_ASSIGNED'::\"BookingStatus\")", DefinitionMode::kWiden),
            "(status <> ALL (ARRAY['JOCKEY_ASSIGNED'::\"BookingStatus\", "
            "'PICKUP_ASSIGNED'::\"BookingStatus\"]))");
  // Unchanged labels stay as they are.
  EXPECT_EQ(Ok("(status <> 'CANCELLED'::\"BookingStatus\")", DefinitionMode::kWiden),
            "(status <> 'CANCELLED'::\"BookingStatus\")");
}

TEST(Translate, NarrowedComparisonsKeepOnlyNewLabels) {
  EXPECT_EQ(Ok("(status = 'IN_WORKSHOP'::\"BookingStatus\")", DefinitionMode::kNarrow),
            "(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus\", "
            "'IN_SERVICE'::\"BookingStatus\"]))");
  EXPECT_EQ(Ok("(status = 'JOCKEY_ASSIGNED'::\"BookingStatus\")", DefinitionMode::kNarrow),
            "(status = 'PICKUP_ASSIGNED'::\"BookingStatus\")");
  // A widened definition narrows to the same set as the original.
  const std::string widened =
      Ok("(status = 'IN_WORKSHOP'::\"BookingStatus\")", DefinitionMode::kWiden);
  EXPECT_EQ(Ok(widened, DefinitionMode::kNarrow),
            "(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus\", "
            "'IN_SERVICE'::\"BookingStatus\"]))");
}

TEST(Translate, ArraysGrowAndShrinkWithEachLabelOnce) {
  const std::string in_list =
      "(status = ANY (ARRAY['CONFIRMED'::\"BookingStatus\", 'IN_WORKSHOP'::\"BookingStatus\", "
      "'COMPLETED'::\"BookingStatus\"]))";
  EXPECT_EQ(
      Ok(in_list, DefinitionMode::kNarrow),
      "(status = ANY (ARRAY['CONFIRMED'::\"BookingStatus\", 'AT_WORKSHOP'::\"BookingStatus\", "
      "'IN_SERVICE'::\"BookingStatus\", 'READY_FOR_RETURN'::\"BookingStatus\"]))");
  EXPECT_EQ(Ok("(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus\", "
               "'IN_SERVICE'::\"BookingStatus\"]))",
               DefinitionMode::kToOld),
            "(status = ANY (ARRAY['IN_WORKSHOP'::\"BookingStatus\"]))");
  EXPECT_EQ(Ok("(status = ANY ('{JOCKEY_ASSIGNED,COMPLETED}'::\"BookingStatus\"[]))",
               DefinitionMode::kWiden),
            "(status = ANY ('{JOCKEY_ASSIGNED,PICKUP_ASSIGNED,COMPLETED,READY_FOR_RETURN}'::"
            "\"BookingStatus\"[]))");
}

TEST(Translate, TextComparisonsWithTheColumnAreRewrittenToo) {
  EXPECT_EQ(Ok("((b.status)::text = 'IN_WORKSHOP'::text)", DefinitionMode::kNarrow),
            "((b.status)::text = ANY (ARRAY['AT_WORKSHOP'::text, 'IN_SERVICE'::text]))");
  EXPECT_EQ(Ok("((status)::text = ANY (ARRAY['COMPLETED'::text, 'CANCELLED'::text]))",
               DefinitionMode::kWiden),
            "((status)::text = ANY (ARRAY['COMPLETED'::text, 'READY_FOR_RETURN'::text, "
            "'CANCELLED'::text]))");
  // Text that is not compared with a column of the type is not ours.
  EXPECT_EQ(Ok("(note = 'IN_WORKSHOP'::text)", DefinitionMode::kNarrow),
            "(note = 'IN_WORKSHOP'::text)");
  EXPECT_EQ(UnrecognisedLabelText("(note = 'IN_WORKSHOP'::text)",
                                  {DefinitionMode::kWiden, kType, "", {"status"}, {}}),
            std::vector<std::string>{"IN_WORKSHOP"});
}

TEST(Translate, ValuesMapOneToOne) {
  EXPECT_EQ(Ok("'JOCKEY_ASSIGNED'::\"BookingStatus\"", DefinitionMode::kNarrow),
            "'PICKUP_ASSIGNED'::\"BookingStatus\"");
  EXPECT_EQ(Ok("'JOCKEY_ASSIGNED'::\"BookingStatus\"", DefinitionMode::kWiden),
            "'JOCKEY_ASSIGNED'::\"BookingStatus\"");
  EXPECT_EQ(Ok("CASE WHEN x THEN 'IN_SERVICE'::\"BookingStatus\" END", DefinitionMode::kToOld),
            "CASE WHEN x THEN 'IN_WORKSHOP'::\"BookingStatus\" END");
  // A value is one label, not a status: naming one of several new labels is fine.
  EXPECT_EQ(Ok("'AT_WORKSHOP'::\"BookingStatus\"", DefinitionMode::kWiden),
            "'AT_WORKSHOP'::\"BookingStatus\"");
}

TEST(Translate, AComparisonNamingPartOfOneStatusIsRefused) {
  Translation how{DefinitionMode::kWiden, "\"BookingStatus\"", "", {"status"}, {}};
  for (const char* sql :
       {"(status = 'AT_WORKSHOP'::\"BookingStatus\")", "((status)::text = 'IN_SERVICE'::text)",
        "(status = ANY (ARRAY['RETURNED'::\"BookingStatus\"]))"}) {
    absl::StatusOr<std::string> r = TranslateDefinition(sql, how);
    ASSERT_FALSE(r.ok()) << sql << " -> " << *r;
    EXPECT_NE(r.status().message().find("name all of"), std::string::npos) << r.status();
  }
  EXPECT_TRUE(TranslateDefinition("(status = ANY (ARRAY['AT_WORKSHOP'::\"BookingStatus\", "
                                  "'IN_SERVICE'::\"BookingStatus\"]))",
                                  how)
                  .ok());
}

TEST(Translate, ASearchedCaseIsCarried) {
  EXPECT_EQ(Ok("CASE WHEN (b.status = 'COMPLETED'::\"BookingStatus\") THEN 'd'::text ELSE "
               "'x'::text END",
               DefinitionMode::kWiden),
            "CASE WHEN (b.status = ANY (ARRAY['COMPLETED'::\"BookingStatus\", "
            "'READY_FOR_RETURN'::\"BookingStatus\"])) THEN 'd'::text ELSE 'x'::text END");
}

TEST(Translate, WhatCannotStandForSeveralLabelsIsRefusedSayingWhatToWrite) {
  for (const char* sql : {
           "CASE b.status WHEN 'IN_WORKSHOP'::\"BookingStatus\" THEN 1 ELSE 0 END",
           "(status IS DISTINCT FROM 'COMPLETED'::\"BookingStatus\")",
           "('JOCKEY_ASSIGNED'::\"BookingStatus\" = status)",
           "(status >= 'COMPLETED'::\"BookingStatus\")",
           "(status < 'CONFIRMED'::\"BookingStatus\")",
       }) {
    absl::StatusOr<std::string> out = Translate(sql, DefinitionMode::kWiden);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition) << sql;
    EXPECT_NE(out.status().message().find("instead"), std::string::npos) << out.status();
  }
  // A single label on the left side or in a simple CASE is fine where it
  // stays one label.
  EXPECT_TRUE(Translate("CASE b.status WHEN 'CANCELLED'::\"BookingStatus\" THEN 1 END",
                        DefinitionMode::kWiden)
                  .ok());
}

TEST(Translate, ShadowDefinitionsRenameColumnsAndTheType) {
  absl::StatusOr<std::string> out =
      Translate("USING btree (\"updatedAt\") WHERE (status = 'IN_WORKSHOP'::\"BookingStatus\")",
                DefinitionMode::kNarrow, "\"BookingStatus__next\"", {{"status", "status__next"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "USING btree (\"updatedAt\") WHERE (status__next = ANY (ARRAY["
            "'AT_WORKSHOP'::\"BookingStatus__next\", 'IN_SERVICE'::\"BookingStatus__next\"]))");
}

TEST(Translate, QuotesAndCommentsDoNotFoolIt) {
  // A label inside another string is not a literal of the type.
  EXPECT_EQ(Ok("(note = 'x ''IN_WORKSHOP''::\"BookingStatus\" y'::text)", DefinitionMode::kWiden),
            "(note = 'x ''IN_WORKSHOP''::\"BookingStatus\" y'::text)");
  EXPECT_FALSE(Translate("(status = 'IN_WORKSHOP", DefinitionMode::kWiden).ok());
}

TEST(Translate, LabelsNamedAreFoundOnce) {
  EXPECT_EQ(LabelsNamed("(status = ANY (ARRAY['COMPLETED'::\"BookingStatus\", "
                        "'COMPLETED'::\"BookingStatus\"])) OR (status)::text = 'DELIVERED'::text",
                        {DefinitionMode::kWiden, kType, "", {"status"}, {}}),
            (std::vector<std::string>{"COMPLETED", "DELIVERED"}));
}

TEST(Labels, MapsFollowTheCatalog) {
  EXPECT_EQ(Preimage("IN_TRANSIT_TO_CUSTOMER"),
            (std::vector<std::string>{"RETURN_ASSIGNED", "RETURNED"}));
  EXPECT_EQ(Preimage("CONFIRMED"), std::vector<std::string>{"CONFIRMED"});
  EXPECT_EQ(ForwardLabel("COMPLETED"), "READY_FOR_RETURN");
  EXPECT_EQ(ReverseLabelOf("RETURNED"), "IN_TRANSIT_TO_CUSTOMER");
  EXPECT_EQ(ReverseLabelOf("CANCELLED"), "CANCELLED");
  EXPECT_EQ(TextArrayLiteral({"A", "B\"C", "D\\E", "F,G"}), R"({"A","B\"C","D\\E","F,G"})");
}

TEST(Names, SuffixesNeverCutACharacterInHalfAndLongNamesStayApart) {
  const std::string name = std::string(60, 'a') + "\xc3\xa9\xc3\xa9";  // 64 bytes
  const std::string out = Suffixed(name, "__next");
  EXPECT_LE(out.size(), 63u);
  EXPECT_EQ(out.substr(0, 48), std::string(48, 'a'));
  EXPECT_EQ(out.substr(out.size() - 6), "__next");
  // Differing only after the prefix kept: still two names.
  EXPECT_NE(out, Suffixed(std::string(60, 'a') + "\xc3\xa9\xc3\xa8", "__next"));
  // The cut would fall between the two bytes of an é: it goes before it.
  const std::string cut =
      Suffixed(std::string(42, 'x') + "\xc3\xa9" + std::string(20, 'y'), "__next_sync");
  EXPECT_EQ(cut.substr(0, 43), std::string(42, 'x') + "_");
  EXPECT_LE(cut.size(), 63u);
}

TEST(Plan, IndexDefinitionsSplitBeforeUsing) {
  const auto [head, tail] = SplitIndexDefinition(
      "CREATE INDEX \"using USING x\" ON public.\"Booking\" USING btree (status)");
  EXPECT_EQ(head, "CREATE INDEX \"using USING x\" ON public.\"Booking\" ");
  EXPECT_EQ(tail, "USING btree (status)");
}

}  // namespace
}  // namespace booking::migrator
