#include "tests/support/fuzz_run.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/fuzz_checks.h"
#include "tests/support/fuzz_writers.h"
#include "tests/support/shapes.h"

namespace booking::testing {
namespace {

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";
constexpr char kNewLabels[] =
    "PENDING_PAYMENT,CONFIRMED,PICKUP_ASSIGNED,PICKED_UP,AT_WORKSHOP,IN_SERVICE,READY_FOR_RETURN,"
    "RETURN_ASSIGNED,RETURNED,DELIVERED,CANCELLED\n";

struct Step {
  std::vector<std::string> args;
  std::string phase;  // "StatusMigration".phase after it
  PhaseLabels labels;
  Writing writing;
};

// The shapes suite's cycle, with writers during backfill, contract and
// every rollback (old code stops for backfill and contract, booking-service
// for rollback expand).
std::vector<Step> Cycle() {
  const PhaseLabels old_rows{LabelSet::kBoth, false}, new_rows{LabelSet::kBoth, true};
  return {{{"expand"}, "expanded", old_rows, Writing::kNone},
          {{"backfill", "--in-service-rule", kRule, "--batch-size", "64"},
           "backfilled",
           new_rows,
           Writing::kNew},
          {{"verify"}, "verified", new_rows, Writing::kNone},
          {{"contract", "--compatibility-window", "0s"},
           "contracted",
           {LabelSet::kNew, true},
           Writing::kNew},
          {{"rollback", "contract"}, "verified", new_rows, Writing::kNewAndOld},
          {{"rollback", "backfill", "--batch-size", "64"},
           "expanded",
           old_rows,
           Writing::kBothOldLabels},
          {{"rollback", "expand"}, "none", {LabelSet::kOld, false}, Writing::kOldOnly}};
}

std::string Cut(const std::string& text, size_t max = 3000) {
  return text.size() <= max ? text : text.substr(0, max) + "\n[... cut]";
}

// What a failed run said: its error lines (not the JSON log's), else its end.
std::string Excerpt(const std::string& output) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "{") || lines.size() >= 6) continue;
    if (absl::StrContains(line, "ERROR") || absl::StrContains(line, "failed") ||
        absl::StrContains(line, "refuse")) {
      lines.emplace_back(line.substr(0, 600));
    }
  }
  if (!lines.empty()) return absl::StrJoin(lines, "\n");
  return output.size() <= 1500 ? output : "[...]" + output.substr(output.size() - 1500);
}

class FuzzRun {
 public:
  FuzzRun(PgCluster& pg, const GeneratedStore& store) : pg_(pg), s_(store) {}

  FuzzOutcome Run() {
    try {
      if (Load() && Up()) s_.refused.empty() ? Carried() : Refused();
    } catch (const pqxx::sql_error& e) {
      Fail("a check's query failed (a fuzzer bug)", absl::StrCat(e.what(), "query: ", e.query()));
    } catch (const std::exception& e) {
      Fail("a check failed to run (a fuzzer bug)", e.what());
    }
    Cleanup();
    return out_;
  }

 private:
  void Fail(const std::string& when, const std::string& what) {
    out_.failures.push_back(absl::StrCat(when, ": ", what));
  }
  void FailAll(const std::string& when, const std::vector<std::string>& what) {
    for (const std::string& w : what) Fail(when, w);
  }
  void Add(const std::vector<std::string>& failures) {
    out_.failures.insert(out_.failures.end(), failures.begin(), failures.end());
  }
  MigratorRun Migrate(const std::vector<std::string>& args) {
    return RunMigrator(pg_, migrator_url_, "", args);
  }
  std::string Phase() {
    return QueryValue(url_,
                      absl::StrCat("SELECT phase FROM \"", s_.schema, "\".\"StatusMigration\""));
  }
  std::string As(const std::string& role) const {
    return role.empty() ? url_ : absl::StrReplaceAll(url_, {{"postgres@", role + "@"}});
  }

  bool Load();
  bool Up();
  void Refused();
  void Carried();
  void Baseline();
  void CheckStep(const Step& step, StoreWriters& writers, const std::string& when);
  void CheckObjects(PhaseLabels labels, const Catalog& catalog, const std::string& when);
  void Cleanup();

  PgCluster& pg_;
  const GeneratedStore& s_;
  FuzzOutcome out_;
  Shape shape_;
  std::string database_, url_, migrator_url_;
  Catalog catalog_, kept_;  // before the change
  std::map<std::string, std::string> rows_, rows_forward_;
  std::vector<std::string> references_;
  std::string ordering_;
};

bool FuzzRun::Load() {
  try {
    Exec(pg_.Url("postgres"), s_.roles_sql);
  } catch (const std::exception& e) {
    Fail("making the store's roles", e.what());
    return false;
  }
  database_ = absl::StrCat("fuzz_", s_.seed);
  absl::StatusOr<std::string> url = pg_.CreateDatabase(database_);
  if (!url.ok()) {
    Fail("creating its database", url.status().ToString());
    return false;
  }
  url_ = *url;
  migrator_url_ = As(s_.migrator_role);
  const std::string file = absl::StrCat(pg_.dir(), "/fuzz-", s_.seed, ".sql");
  std::ofstream(file) << s_.sql;
  const PsqlRun load = RunPsqlFile(pg_, url_, file);
  if (load.exit_code != 0) {
    Fail("loading the generated store (a generator bug; SQL in " + file + ")", Cut(load.output));
    return false;
  }
  EnableIndexChecks(url_);
  shape_.name = absl::StrCat("seed-", s_.seed);
  shape_.schema = s_.schema;
  shape_.probes = s_.probes;
  return true;
}

bool FuzzRun::Up() {
  const MigratorRun up = Migrate({"up", "--store", "booking"});
  if (up.exit_code == 0) return true;
  if (s_.row_type_column && up.exit_code == 6) {
    for (const ExpectedRefusal& e : s_.refused) {
      if (!absl::StartsWith(e.kind, "row-type column")) continue;
      bool named = true;
      for (const std::string& f : e.fragments) named &= absl::StrContains(up.output, f);
      if (named) {
        out_.kind = FuzzOutcome::kRefusedAtUp;
        return false;
      }
    }
  }
  Fail("migrator up --store booking",
       absl::StrCat("exit ", up.exit_code,
                    s_.row_type_column ? " (a row-type column may make it refuse: exit 6 naming it)"
                                       : ", expected 0",
                    ":\n", Excerpt(up.output)));
  return false;
}

void FuzzRun::Refused() {
  out_.kind = FuzzOutcome::kRefused;
  const Catalog before = CatalogOf(url_, s_.schema);
  const auto rows = RowDigests(url_, false);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"plan"}, {"plan", "--json"}, {"expand"}}) {
    const std::string command = "migrator " + absl::StrJoin(args, " ");
    const MigratorRun run = Migrate(args);
    if (run.exit_code != 6) {
      Fail(command, absl::StrCat("exit ", run.exit_code, ", expected 6 (refused)",
                                 run.exit_code == 0 ? "" : ":\n" + Excerpt(run.output)));
    }
    std::string error;
    const std::vector<PrintedRefusal> printed = args[0] == "expand" ? ExpandRefusals(run.output)
                                                : args.size() == 2
                                                    ? JsonPlanRefusals(run.output, &error)
                                                    : TextPlanRefusals(run.output);
    if (!error.empty()) Fail(command, error + ":\n" + Cut(run.output));
    Add(RefusalFailures(command, printed, s_));
  }
  const std::string when = "after the refused expand (nothing may change)";
  FailAll(when, CatalogFailures(CatalogOf(url_, s_.schema), before));
  FailAll(when, DigestFailures(RowDigests(url_, false), rows));
  if (Phase() != "none") Fail(when, "phase " + Phase() + ", expected none");
}

void FuzzRun::Baseline() {
  catalog_ = CatalogOf(url_, s_.schema);
  kept_ = KeptPart(catalog_);
  rows_ = RowDigests(url_, false, "wr-");
  rows_forward_ = RowDigests(url_, true, "wr-");
  references_ = ReferenceAnswers(url_, shape_);
  for (size_t i = 0; i < references_.size(); ++i) {
    if (absl::StartsWith(references_[i], "0 rows")) {
      Fail("before expand (a generator bug)",
           absl::StrCat("probe ", i + 1, ": its reference finds no rows: ", s_.probes[i].same_as));
    }
  }
  ordering_ = s_.ordering_probes ? OrderingAnswers(url_, s_.schema) : "";
  if (Phase() != "none") Fail("before expand", "phase " + Phase() + ", expected none");
  CheckObjects({LabelSet::kOld, false}, catalog_, "before expand (a generator bug)");
}

void FuzzRun::Carried() {
  out_.kind = FuzzOutcome::kCarried;
  Baseline();
  const MigratorRun plan = Migrate({"plan"});
  if (plan.exit_code != 0) {
    Fail("migrator plan",
         absl::StrCat("exit ", plan.exit_code, ", expected 0 (nothing to refuse)"));
    Add(RefusalFailures("migrator plan", TextPlanRefusals(plan.output), s_));
    return;
  }
  StoreWriters writers(As(s_.writer_role), s_);
  for (const Step& step : Cycle()) {
    const std::string what = "migrator " + absl::StrJoin(step.args, " ");
    writers.Set(step.writing);
    if (step.writing != Writing::kNone && !writers.Await(20)) {
      Fail("before " + what, "the writers made no progress: " + writers.NewErrors());
    }
    const MigratorRun run = Migrate(step.args);
    writers.Pause();
    out_.writes = writers.committed();
    if (run.exit_code != 0) {
      Fail(what, absl::StrCat("exit ", run.exit_code, ", expected 0:\n", Excerpt(run.output)));
      return;
    }
    CheckStep(step, writers, "after " + what);
  }
  FailAll("after the whole cycle (the catalog exactly as before)",
          CatalogFailures(CatalogOf(url_, s_.schema), catalog_));
}

void FuzzRun::CheckStep(const Step& step, StoreWriters& writers, const std::string& when) {
  const std::string phase = Phase();
  if (phase != step.phase) Fail(when, "phase " + phase + ", expected " + step.phase);
  FailAll(when, DigestFailures(RowDigests(url_, false, "wr-"),
                               step.labels.rows_new ? rows_forward_ : rows_));
  const Catalog catalog = CatalogOf(url_, s_.schema);
  CheckObjects(step.labels, catalog, when);
  if (step.labels.type == LabelSet::kNew) {
    if (catalog.at("labels") != kNewLabels) Fail(when, "labels " + catalog.at("labels"));
    const std::string old = OldLabelsIn(catalog);
    if (!old.empty()) Fail(when, "definitions still naming old labels:\n" + old);
  } else if (step.labels.type == LabelSet::kBoth) {
    const std::vector<std::string> labels = absl::StrSplit(catalog.at("labels"), ',');
    if (labels.size() != 16) Fail(when, "labels (expected both sets) " + catalog.at("labels"));
  }
  const std::string ordering = s_.ordering_probes ? OrderingAnswers(url_, s_.schema) : "";
  if (ordering != ordering_) {
    Fail(when,
         "ordering queries on \"Booking\" answer\n" + ordering + "\ninstead of\n" + ordering_);
  }
  const Cells cells = ReservedCells(url_, s_);
  FailAll(when, CellFailures(cells, writers.Expected(), s_));
  out_.cells += static_cast<int64_t>(cells.size());
  const std::string errors = writers.NewErrors();
  if (!errors.empty()) Fail(when, errors);
}

void FuzzRun::CheckObjects(PhaseLabels labels, const Catalog& catalog, const std::string& when) {
  FailAll(when, CatalogFailures(KeptPart(catalog), kept_));
  const std::string indexes = IndexProblems(url_, s_.schema);
  if (!indexes.empty()) Fail(when, "index problems: " + indexes);
  const std::string strays = StrayObjects(url_, s_.schema);
  if (!strays.empty()) Fail(when, "stray objects: " + strays);
  for (const std::string& f : ProbeFailures(url_, shape_, references_, labels)) {
    Fail(when, "probe " + f);
  }
}

void FuzzRun::Cleanup() {
  if (std::getenv("KEEP_FUZZ_DB") != nullptr) return;
  try {
    if (!database_.empty()) {
      ForgetConnection(url_);
      Exec(pg_.Url("postgres"), absl::StrCat("DROP DATABASE \"", database_, "\" WITH (FORCE)"));
    }
    const std::string roles = absl::StrJoin(s_.roles, ", ");
    Exec(pg_.Url("postgres"), absl::StrCat("DROP OWNED BY ", roles, "; DROP ROLE ", roles));
  } catch (const std::exception& e) {
    Fail("dropping the store's database and roles", e.what());
  }
}

}  // namespace

FuzzOutcome RunFuzzStore(PgCluster& pg, const GeneratedStore& store) {
  return FuzzRun(pg, store).Run();
}

}  // namespace booking::testing
