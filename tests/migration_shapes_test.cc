// The shapes suite: base.sql's store plus one kind of object that depends on
// the status type or names its labels (tests/fixtures/shapes/, one fixture
// per kind, and one combining many). Each is either carried (forward through
// contract and back through every rollback: rows and catalog exactly as
// before, and the queries through the object answering as on the original
// data in every phase), or refused at expand with nothing changed.
//
// A fixture declares, in `--@` lines beside its objects:
//   --@base VAR=VALUE ...     psql variables for base.sql (schema, partition)
//   --@owner ROLE             fixture and migrator connect as ROLE (not a superuser)
//   --@superuser-sql SQL      after the fixture, as a superuser (objects of other roles)
//   --@refused NAME           expand refuses, naming NAME (repeatable)
//   --@remedy TEXT            ... and telling TEXT (repeatable)
//   --@then-sql SQL           after the refusal: made carriable by this (as superuser)
//   --@then-assume-handled N  after the refusal: carried with --assume-handled N
//   --@replay                 go forward again after rolling back the backfill
//   --@probe SQL              a query through the objects (see shapes.h), then one of
//   --@same-as SQL            ... its rows equal this query's on the original data
//   --@expect TEXT            ... its first value is TEXT
//   --@rejects SQLSTATE       ... it fails with SQLSTATE
//   --| TEXT                  continues the directive above
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/shapes.h"

namespace booking::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";
constexpr char kNewLabels[] =
    "PENDING_PAYMENT,CONFIRMED,PICKUP_ASSIGNED,PICKED_UP,AT_WORKSHOP,IN_SERVICE,READY_FOR_RETURN,"
    "RETURN_ASSIGNED,RETURNED,DELIVERED,CANCELLED\n";

// One phase of the cycle and what the store holds after it.
struct Step {
  std::vector<std::string> args;
  std::string phase;  // "StatusMigration".phase
  PhaseLabels labels;
};

std::vector<Step> Cycle(bool replay) {
  const PhaseLabels old_rows{LabelSet::kBoth, false}, new_rows{LabelSet::kBoth, true};
  std::vector<Step> steps = {
      {{"expand"}, "expanded", old_rows},
      {{"backfill", "--in-service-rule", kRule, "--batch-size", "64"}, "backfilled", new_rows},
      {{"verify"}, "verified", new_rows},
      {{"contract", "--compatibility-window", "0s"}, "contracted", {LabelSet::kNew, true}},
      {{"rollback", "contract"}, "verified", new_rows},
      {{"rollback", "backfill", "--batch-size", "64"}, "expanded", old_rows}};
  if (replay) {
    // Forward again, without the rule: the exact labels the rollback kept
    // (IN_SERVICE among them) come back.
    steps.push_back({{"backfill"}, "backfilled", new_rows});
    steps.push_back({{"verify"}, "verified", new_rows});
    steps.push_back({{"rollback", "backfill"}, "expanded", old_rows});
  }
  steps.push_back({{"rollback", "expand"}, "none", {LabelSet::kOld, false}});
  return steps;
}

// Applies one `--@key value` line to `s`; the text a "--|" line would
// continue, or null (also for an unknown key, which LoadShape rejects).
std::string* Directive(Shape& s, int line, const std::string& key, const std::string& value) {
  Probe* probe = s.probes.empty() ? nullptr : &s.probes.back();
  std::string* text = nullptr;
  if (key == "base") {
    s.base_vars = absl::StrSplit(value, ' ', absl::SkipEmpty());
    for (const std::string& v : s.base_vars) {
      if (absl::StartsWith(v, "schema=")) s.schema = v.substr(7);
    }
  } else if (key == "owner") {
    s.owner = value;
  } else if (key == "replay") {
    s.replay = true;
  } else if (key == "refused" || key == "remedy") {
    text = &(key == "refused" ? s.refused : s.remedies).emplace_back();
  } else if (key == "superuser-sql") {
    text = &s.superuser_sql;
  } else if (key == "then-sql" || key == "then-assume-handled") {
    text = key == "then-sql" ? &s.fix_sql : &s.assume_handled;
  } else if (key == "probe") {
    s.probes.push_back({line, "", "", "", ""});
    text = &s.probes.back().sql;
  } else if (probe != nullptr && (key == "same-as" || key == "expect" || key == "rejects")) {
    text = key == "same-as" ? &probe->same_as : key == "expect" ? &probe->expect : &probe->rejects;
  }
  if (text != nullptr) *text = value;
  return text;
}

absl::StatusOr<Shape> LoadShape(const std::string& name) {
  std::ifstream in(FixturePath(absl::StrCat("shapes/", name, ".sql")));
  if (!in) return absl::NotFoundError(absl::StrCat("no fixture shapes/", name, ".sql"));
  Shape s;
  s.name = name;
  std::string line;
  std::string* open = nullptr;  // the directive a "--|" line continues
  for (int n = 1; std::getline(in, line); ++n) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "--|") && open != nullptr) {
      absl::StrAppend(open, " ", absl::StripAsciiWhitespace(rest));
      continue;
    }
    open = nullptr;
    if (!absl::ConsumePrefix(&rest, "--@")) continue;
    const std::pair<std::string, std::string> kv = absl::StrSplit(rest, absl::MaxSplits(' ', 1));
    open = Directive(s, n, kv.first, std::string(absl::StripAsciiWhitespace(kv.second)));
    if (open == nullptr && kv.first != "base" && kv.first != "owner" && kv.first != "replay") {
      return absl::InvalidArgumentError(absl::StrCat(name, ".sql:", n, ": bad directive ", line));
    }
  }
  for (const Probe& p : s.probes) {
    if (p.same_as.empty() + p.expect.empty() + p.rejects.empty() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ".sql:", p.line, ": a probe needs one of --@same-as, --@expect, --@rejects"));
    }
  }
  return s;
}

// The store before the change.
struct Baseline {
  Catalog catalog, kept;
  std::map<std::string, std::string> rows, rows_forward;
  std::vector<std::string> references;
};

bool HasRefusedLine(const std::string& output, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StrContains(line, "REFUSED") && absl::StrContains(line, name)) return true;
  }
  return false;
}

// `migrator plan --json` printed one object (on a line of its own) listing
// each of `names` with why it is refused and what to do.
void ExpectJsonRefuses(const std::string& output, const std::vector<std::string>& names) {
  google::protobuf::Struct plan;
  bool parsed = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StrContains(line, "\"objects\"")) continue;
    const auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &plan);
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << line;
    parsed = true;
  }
  ASSERT_TRUE(parsed) << "no plan object in:\n" << output;
  const auto& fields = plan.fields();
  EXPECT_FALSE(fields.count("carryable") > 0 && fields.at("carryable").bool_value());
  ASSERT_GT(fields.count("objects"), 0u) << output;
  for (const std::string& name : names) {
    bool listed = false;
    for (const auto& o : fields.at("objects").list_value().values()) {
      const auto& f = o.struct_value().fields();
      auto text = [&](const char* key) { return f.count(key) ? f.at(key).string_value() : ""; };
      listed |= absl::StrContains(absl::StrCat(text("kind"), " ", text("name")), name) &&
                !text("refusal").empty() && !text("remedy").empty();
    }
    EXPECT_TRUE(listed) << name << " is not refused (with a remedy) in:\n" << output;
  }
}

class ShapesTest : public PgSuite, public ::testing::WithParamInterface<std::string> {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    // The roles fixtures name; owners log in (fixture and migrator connect as them).
    Exec(pg_->Url("postgres"),
         "CREATE ROLE shapes_reader; CREATE ROLE shapes_view_owner; CREATE ROLE shapes_app; "
         "CREATE ROLE shapes_rls_owner LOGIN; CREATE ROLE shapes_trigger_owner LOGIN; "
         "CREATE ROLE shapes_team_a LOGIN; CREATE ROLE shapes_team_b; CREATE ROLE shapes_team_c");
  }

  // A fresh database holding base.sql plus the shape, then `up`.
  void Load() {
    absl::StatusOr<Shape> shape = LoadShape(GetParam());
    ASSERT_TRUE(shape.ok()) << shape.status();
    shape_ = *std::move(shape);
    const std::string database = "shape_" + shape_.name;
    absl::StatusOr<std::string> url = pg_->CreateDatabase(database);
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = migrator_url_ = *url;
    if (!shape_.owner.empty()) {
      Exec(url_, absl::StrCat("ALTER DATABASE \"", database, "\" OWNER TO ", shape_.owner));
      migrator_url_ = absl::StrReplaceAll(url_, {{"postgres@", shape_.owner + "@"}});
    }
    std::vector<std::string> vars = shape_.base_vars;
    vars.push_back("shape=" + FixturePath("shapes/" + shape_.name + ".sql"));
    const PsqlRun load = RunPsqlFile(*pg_, migrator_url_, FixturePath("shapes/base.sql"), vars);
    ASSERT_EQ(load.exit_code, 0) << load.output;
    if (!shape_.superuser_sql.empty()) {
      Exec(url_, absl::StrCat("SET search_path = \"", shape_.schema, "\"; ", shape_.superuser_sql));
    }
    EnableIndexChecks(url_);
    const MigratorRun up = Migrate({"up", "--store", "booking"});
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }

  MigratorRun Migrate(std::vector<std::string> args) {
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return RunMigrator(*pg_, migrator_url_, "", args);
  }

  std::string Phase() {
    return QueryValue(url_, absl::StrCat("SET search_path = \"", shape_.schema,
                                         "\", public; SELECT phase FROM \"StatusMigration\""));
  }

  void ExpectCatalog(const Catalog& expected) {
    const Catalog now = CatalogOf(url_, shape_.schema);
    for (const auto& [section, lines] : expected) EXPECT_EQ(now.at(section), lines) << section;
  }

  Baseline TakeBaseline() {
    const Catalog catalog = CatalogOf(url_, shape_.schema);
    Baseline b{catalog, KeptPart(catalog), RowDigests(url_, false), RowDigests(url_, true),
               ReferenceAnswers(url_, shape_)};
    for (size_t i = 0; i < b.references.size(); ++i) {
      // A reference finding nothing would let an object answering nothing pass.
      EXPECT_FALSE(absl::StartsWith(b.references[i], "0 rows"))
          << shape_.name << ".sql:" << shape_.probes[i].line << ": the reference finds no rows";
    }
    EXPECT_EQ(Phase(), "none");
    CheckObjects({LabelSet::kOld, false}, b, catalog);
    return b;
  }

  // What every phase keeps: objects' names, owners, grants, options,
  // comments and states; consistent indexes; no stray objects; each query
  // through an object answering as on the original data.
  void CheckObjects(PhaseLabels labels, const Baseline& b, const Catalog& catalog) {
    for (const auto& [section, lines] : KeptPart(catalog)) {
      EXPECT_EQ(lines, b.kept.at(section)) << section;
    }
    EXPECT_EQ(IndexProblems(url_, shape_.schema), "");
    EXPECT_EQ(StrayObjects(url_, shape_.schema), "");
    for (const std::string& failure : ProbeFailures(url_, shape_, b.references, labels)) {
      ADD_FAILURE() << failure;
    }
  }

  void CheckStep(const Step& step, const Baseline& b) {
    EXPECT_EQ(Phase(), step.phase);
    // Row-exact: every column of every row as before (or its status mapped
    // forward); "updatedAt" and logs written by user triggers included.
    EXPECT_EQ(RowDigests(url_, false), step.labels.rows_new ? b.rows_forward : b.rows);
    const Catalog catalog = CatalogOf(url_, shape_.schema);
    CheckObjects(step.labels, b, catalog);
    if (step.labels.type == LabelSet::kNew) {
      EXPECT_EQ(catalog.at("labels"), kNewLabels);
      EXPECT_EQ(OldLabelsIn(catalog), "") << "definitions still naming old labels";
    } else if (step.labels.type == LabelSet::kBoth) {
      EXPECT_EQ(std::vector<std::string>(absl::StrSplit(catalog.at("labels"), ',')).size(), 16u)
          << catalog.at("labels");
    }
  }

  // Forward through contract and back through every rollback.
  void Carry() {
    const Baseline b = TakeBaseline();
    for (const Step& step : Cycle(shape_.replay)) {
      const std::string what = absl::StrJoin(step.args, " ");
      SCOPED_TRACE("after " + what);
      const MigratorRun run = Migrate(step.args);
      ASSERT_EQ(run.exit_code, 0) << what << ":\n" << run.output;
      CheckStep(step, b);
    }
    // Object-exact: the catalog as it was; nothing the migrator made remains.
    ExpectCatalog(b.catalog);
  }

  Shape shape_;
  std::string url_;           // as superuser: snapshots and probes
  std::string migrator_url_;  // as the shape's owner
  std::vector<std::string> extra_args_;
};

class CarriedShapeTest : public ShapesTest {};
class RefusedShapeTest : public ShapesTest {};

TEST_P(CarriedShapeTest, ThroughEveryPhaseAndBack) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_TRUE(shape_.refused.empty());
  ASSERT_FALSE(shape_.probes.empty()) << "a carried shape declares queries through its objects";
  const MigratorRun plan = Migrate({"plan"});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  Carry();
}

TEST_P(RefusedShapeTest, AtExpandWithNothingChanged) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_FALSE(shape_.refused.empty()) << "a refused shape names what is refused (--@refused)";
  const Catalog catalog = CatalogOf(url_, shape_.schema);
  const auto rows = RowDigests(url_, false);

  const MigratorRun plan = Migrate({"plan"});
  EXPECT_EQ(plan.exit_code, 6) << plan.output;
  for (const std::string& name : shape_.refused) {
    EXPECT_TRUE(HasRefusedLine(plan.output, name)) << name << " in:\n" << plan.output;
  }
  const MigratorRun json = Migrate({"plan", "--json"});
  EXPECT_EQ(json.exit_code, 6) << json.output;
  ExpectJsonRefuses(json.output, shape_.refused);

  // status reads the store as it is and says what is refused (not a failure).
  const MigratorRun status = Migrate({"status", "--store", "booking"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("REFUSED"));
  const MigratorRun expand = Migrate({"expand"});
  EXPECT_EQ(expand.exit_code, 6) << expand.output;
  EXPECT_THAT(expand.output, HasSubstr("What to do:"));
  for (const std::string& name : shape_.refused) EXPECT_THAT(expand.output, HasSubstr(name));
  for (const std::string& remedy : shape_.remedies) {
    EXPECT_THAT(expand.output, HasSubstr(remedy));
    EXPECT_THAT(plan.output, HasSubstr(remedy));
  }
  // Nothing changed: labels, every definition and object (no backup table,
  // no trigger), every row, and the phase.
  ExpectCatalog(catalog);
  EXPECT_EQ(RowDigests(url_, false), rows);
  EXPECT_EQ(Phase(), "none");

  if (shape_.fix_sql.empty() && shape_.assume_handled.empty()) return;
  // Once the operator did what the message says, it is carried.
  if (!shape_.fix_sql.empty()) Exec(url_, shape_.fix_sql);
  if (!shape_.assume_handled.empty()) extra_args_ = {"--assume-handled", shape_.assume_handled};
  const MigratorRun replan = Migrate({"plan"});
  EXPECT_EQ(replan.exit_code, 0) << replan.output;
  Carry();
}

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(
    Shapes, CarriedShapeTest,
    ::testing::Values("plain_index", "partial_index", "unique_partial_index", "expression_index",
                      "view_filter", "view_over_view", "view_text_compare", "view_searched_case",
                      "view_grants_options", "status_column_details", "check_constraint",
                      "check_not_valid_clean", "trigger_when", "trigger_update_of",
                      "trigger_updated_at", "policy", "rule", "other_table_default",
                      "unrelated_labels", "partitioned", "partition_local", "schema_app",
                      "combined", "long_names", "label_order", "column_options"),
    ParamName);

INSTANTIATE_TEST_SUITE_P(
    Shapes, RefusedShapeTest,
    ::testing::Values("generated_column", "materialized_view", "function_taking_type",
                      "function_body_label", "array_column", "domain", "composite_type",
                      "inheritance", "unique_id_status", "foreign_key_status", "view_simple_case",
                      "view_is_distinct", "view_label_left", "view_ordering", "statistics",
                      "partition_key_status", "forced_rls_owner", "trigger_owner_without_replica",
                      "unique_status_key", "check_not_valid", "view_compares_columns",
                      "row_value_column", "function_sql_body", "view_text_like", "check_text_like",
                      "default_case_label", "check_new_label_alone", "other_owner_schema",
                      "schema_without_usage", "event_trigger", "publication", "many_refused",
                      "partition_own_default"),
    ParamName);

}  // namespace
}  // namespace booking::testing
