// The plan as a pure function of the catalog's facts (JudgePlan), and the
// pure pieces it stands on: stored-tree reading, function-body scanning,
// the names the migrator derives, and where new labels go.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "migrator/status_enum/body_scan.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/node_tree.h"
#include "migrator/status_enum/plan.h"

namespace booking::migrator {
namespace {

// A store's facts as ReadInventory gathers them: type oid 100 (array 101),
// labels by oid, the migrator a member of every owner.
StatusPlan Facts() {
  StatusPlan plan;
  plan.set_type("\"BookingStatus\"");
  plan.set_table("\"Booking\"");
  plan.set_schema("public");
  auto& t = *plan.mutable_types();
  t.set_enum_oid(100);
  t.set_array_oid(101);
  t.set_type_name("BookingStatus");
  t.set_type_schema("public");
  const std::vector<std::string> labels = OldLabels();
  for (size_t i = 0; i < labels.size(); ++i) (*t.mutable_labels())[i + 1] = labels[i];
  (*t.mutable_names())[3516] = "=(anyenum,anyenum)";
  auto& r = *plan.mutable_role();
  r.set_name("migrator");
  r.set_owns_type(true);
  r.set_create_in_store_schema(true);
  r.set_create_in_type_schema(true);
  r.set_type_owner_may_create(true);
  r.set_store_schema("public");
  return plan;
}

PlanObject& Add(StatusPlan& plan, const std::string& kind, const std::string& name) {
  PlanObject& o = *plan.add_objects();
  o.set_kind(kind);
  o.set_name(name);
  o.set_table("\"Booking\"");
  o.set_owner("migrator");
  o.set_can_alter(true);
  o.set_schema("public");
  o.set_schema_usage(true);
  o.set_schema_create(true);
  o.set_owner_may_create(true);
  return o;
}

// status = <label oid> as PostgreSQL stores it.
std::string Equals(int label_oid) {
  return absl::StrCat(
      "{OPEXPR :opno 3516 :opfuncid 3508 :opresulttype 16 :args ({VAR :varno 1 :varattno 3 "
      ":vartype 100 :varlevelsup 0} {CONST :consttype 100 :constlen 4 :constbyval true "
      ":constisnull false :location 1 :constvalue 4 [ ",
      label_oid, " 0 0 0 0 0 0 0 ]})}");
}

PlanObject& Check(StatusPlan& plan, const std::string& name, const std::string& printed,
                  const std::string& tree) {
  PlanObject& o = Add(plan, "check", name);
  o.set_raw_name(name);
  o.set_definition(printed);
  o.set_enabled("valid");
  auto& e = *o.add_exprs();
  e.set_use("condition");
  e.set_tree(tree);
  return o;
}

TEST(JudgePlan, CarriesADefinitionItsStoredFormAndPrintedFormAgreeOn) {
  StatusPlan plan = Facts();
  Check(plan, "c1", "CHECK ((status = 'IN_WORKSHOP'::\"BookingStatus\"))", Equals(5));
  JudgePlan(plan, {});
  EXPECT_TRUE(plan.carryable()) << plan.DebugString();
  ASSERT_EQ(plan.objects(0).labels_size(), 1);
  EXPECT_EQ(plan.objects(0).labels(0), "IN_WORKSHOP");
}

TEST(JudgePlan, RefusesADefinitionWhosePrintedFormHidesALabel) {
  StatusPlan plan = Facts();
  Check(plan, "c1", "CHECK (odd_function(status))", Equals(5));
  JudgePlan(plan, {});
  EXPECT_FALSE(plan.carryable());
  EXPECT_TRUE(absl::StrContains(plan.objects(0).refusal(), "cannot rewrite it faithfully"))
      << plan.objects(0).refusal();
}

TEST(JudgePlan, RefusesKindsNoStrategyCarriesWithReasonAndRemedy) {
  StatusPlan plan = Facts();
  Add(plan, "row value column", "\"Audit\".old");
  Add(plan, "something new", "thing");
  JudgePlan(plan, {});
  EXPECT_FALSE(plan.carryable());
  EXPECT_TRUE(absl::StrContains(plan.objects(0).remedy(), "jsonb"));
  EXPECT_TRUE(absl::StrContains(plan.objects(1).refusal(), "does not carry"));  // default deny
  ASSERT_EQ(Refusals(plan).size(), 2u);  // every refusal listed, not only the first
}

TEST(JudgePlan, AnOperatorMayTakeOverOnlyWhatItCanBeTrustedWith) {
  StatusPlan plan = Facts();
  Add(plan, "function on row type", "function f(\"Booking\")");
  Add(plan, "function", "function g(\"BookingStatus\")");
  JudgePlan(plan, {{"function f(\"Booking\")", "function g(\"BookingStatus\")"}, "none"});
  EXPECT_TRUE(plan.objects(0).refusal().empty());
  EXPECT_FALSE(plan.objects(1).refusal().empty());
}

TEST(JudgePlan, RefusesWhatTheRoleMayNotChangeNamingTheGrant) {
  StatusPlan plan = Facts();
  PlanObject& column = Add(plan, "column", "team_b.\"Slot\".status");
  column.set_owner("team_b");
  column.set_can_alter(false);
  column.set_schema("team_b");
  column.set_schema_usage(false);
  plan.mutable_role()->set_owns_type(false);
  plan.mutable_role()->set_type_owner("team_c");
  JudgePlan(plan, {});
  EXPECT_FALSE(plan.carryable());
  EXPECT_TRUE(absl::StrContains(plan.objects(0).remedy(), "GRANT team_b TO migrator"));
  EXPECT_TRUE(absl::StrContains(plan.objects(0).remedy(), "GRANT USAGE ON SCHEMA team_b"));
  EXPECT_TRUE(absl::StrContains(Refusals(plan).back(), "GRANT team_c TO migrator"));
}

TEST(JudgePlan, ObjectsNamedLikeTheMigratorsAreTheUsersBeforeExpandAndOursAfter) {
  StatusPlan before = Facts();
  Add(before, "migrator's name", "\"x__wide\"").set_detail("an index");
  StatusPlan during = before;
  JudgePlan(before, {{}, "none"});
  EXPECT_FALSE(before.carryable());
  JudgePlan(during, {{}, "expanded"});
  EXPECT_TRUE(during.carryable());
  EXPECT_EQ(during.objects_size(), 0);
}

TEST(JudgePlan, SaysWhereContractPutsTheColumn) {
  StatusPlan plan = Facts();
  PlanObject& c = Add(plan, "column", "\"Booking\".status");
  c.set_column("status");
  c.set_printed_column("status");
  c.set_position(3);
  c.set_columns(8);
  JudgePlan(plan, {});
  ASSERT_EQ(plan.notes_size(), 1);
  EXPECT_TRUE(absl::StrContains(plan.notes(0), "from column 3 to the last column"));
}

TEST(JudgePlan, RefusesNamesTheMigratorWouldCreateTwice) {
  StatusPlan plan = Facts();
  Check(plan, "same", "CHECK ((status = 'IN_WORKSHOP'::\"BookingStatus\"))", Equals(5));
  Check(plan, "same", "CHECK ((status = 'IN_WORKSHOP'::\"BookingStatus\"))", Equals(5))
      .set_name("b");
  JudgePlan(plan, {});
  EXPECT_FALSE(plan.carryable());
  EXPECT_EQ(plan.objects(plan.objects_size() - 1).kind(), "name collision");
}

TEST(Names, LongNamesStayApartAndWithin63Bytes) {
  const std::string prefix(61, 'i');
  const std::string a = Suffixed(prefix + "_a", "__next"), b = Suffixed(prefix + "_b", "__next");
  EXPECT_NE(a, b);
  EXPECT_LE(a.size(), 63u);
  EXPECT_TRUE(absl::EndsWith(a, "__next"));
  EXPECT_EQ(Suffixed("short", "__next"), "short__next");  // as before: a rerun finds them
  const std::string table(55, 't');
  EXPECT_NE(SyncTrigger(table, "first_column"), SyncTrigger(table, "second_column"));
  const std::string utf8 = std::string(58, 'x') + "\xc3\xa9\xc3\xa9";  // é é
  const std::string cut = Suffixed(utf8, "__wide");
  EXPECT_NE(static_cast<unsigned char>(cut[cut.find("_") - 1]) & 0xC0, 0xC0u);
}

TEST(Labels, NewLabelsGoNextToTheOldOnesTheyReadBackAs) {
  EXPECT_EQ(WindowOrder(),
            (std::vector<std::string>{"PENDING_PAYMENT", "CONFIRMED", "JOCKEY_ASSIGNED",
                                      "PICKUP_ASSIGNED", "IN_TRANSIT_TO_WORKSHOP", "PICKED_UP",
                                      "IN_WORKSHOP", "AT_WORKSHOP", "IN_SERVICE", "COMPLETED",
                                      "READY_FOR_RETURN", "IN_TRANSIT_TO_CUSTOMER",
                                      "RETURN_ASSIGNED", "RETURNED", "DELIVERED", "CANCELLED"}));
  const auto q = [](const std::string& l) { return absl::StrCat("'", l, "'"); };
  EXPECT_EQ(Placement(OldLabels(), "PICKUP_ASSIGNED", q), "AFTER 'JOCKEY_ASSIGNED'");
  EXPECT_EQ(Placement(NewLabels(), "JOCKEY_ASSIGNED", q), "AFTER 'CONFIRMED'");
  EXPECT_EQ(Placement({"DELIVERED"}, "CONFIRMED", q), "BEFORE 'DELIVERED'");
  EXPECT_EQ(StatusClass("IN_SERVICE"),
            (std::vector<std::string>{"IN_WORKSHOP", "AT_WORKSHOP", "IN_SERVICE"}));
}

TEST(BodyScan, FindsOldLabelsAndPatternsMatchingThemButNotOrdinaryText) {
  EXPECT_FALSE(OldLabelTextIn("IF NEW.status::text LIKE 'IN\\_%' THEN").empty());
  EXPECT_FALSE(OldLabelTextIn("IF s ~ '^IN_TRANS' THEN").empty());
  EXPECT_FALSE(OldLabelTextIn("IF strpos(s, 'WORKSHOP') > 0 THEN").empty());
  EXPECT_FALSE(OldLabelTextIn("EXECUTE 'SELECT 1 WHERE s = ''IN_WORKSHOP''';").empty());
  EXPECT_FALSE(OldLabelTextIn("x := $q$COMPLETED$q$;").empty());
  EXPECT_TRUE(OldLabelTextIn("RAISE NOTICE '% %', a, b; -- IN_WORKSHOP here is a comment").empty());
  EXPECT_TRUE(OldLabelTextIn("IF s = 'PENDING_PAYMENT' OR s = 'IN_SERVICE' THEN").empty());
}

TEST(NodeTree, ReadsNodesListsAtomsAndDatums) {
  absl::StatusOr<TreeNode> t = ParseNodeTree(
      R"(({QUERY :rtable <> :alias {ALIAS :aliasname my\ table :colnames ("a" "b")} :ints (i 1 2)}))");
  ASSERT_TRUE(t.ok()) << t.status();
  const TreeNode& q = t->items[0];
  EXPECT_TRUE(q.Is("QUERY"));
  EXPECT_TRUE(q.Field("rtable")->IsNull());
  EXPECT_EQ(q.Field("alias")->Atom("aliasname"), "my table");
  EXPECT_EQ(q.Field("ints")->items.size(), 3u);
  EXPECT_FALSE(ParseNodeTree("{QUERY :x (").ok());
  // '{A,BC}'::text[]: 1-byte element headers; 'IN\_%'::text: a 4-byte header.
  const std::vector<uint8_t> array = {116, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,   0, 25,  0,  0,
                                      0,   2, 0, 0, 0, 1, 0, 0, 0, 5, 'A', 7, 'B', 'C'};
  EXPECT_EQ(ArrayTexts(array), (std::vector<std::string>{"A", "BC"}));
  EXPECT_EQ(VarlenaText({36, 0, 0, 0, 'I', 'N', '\\', '_', '%'}), "IN\\_%");
}

}  // namespace
}  // namespace booking::migrator
