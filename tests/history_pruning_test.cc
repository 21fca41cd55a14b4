// Every query history-service runs on a store partitioned by time reaches
// only the partitions its rows are in. Not a list of the queries we thought
// of: PostgreSQL's auto_explain logs the plan of every statement the
// service's sessions run (ANALYZE: what each node did), while the service
// ingests, reads, verifies, watches and grows its log; the test reads every
// plan and refuses any that executed a scan of a month holding none of the
// rows (all of them are in the first partition: the months ahead are empty).
// The test's own queries are not looked at (another application_name).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/history_calls.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// The JSON plans auto_explain wrote to the server's log after `from` for
// history-service's sessions (their application_name, which the log line
// prefix carries): the lines after each "plan:" that start with a tab.
std::vector<std::string> PlansIn(const std::string& log, size_t from) {
  std::vector<std::string> plans;
  std::string* current = nullptr;
  for (absl::string_view line : absl::StrSplit(log.substr(from), '\n')) {
    if (current != nullptr && absl::StartsWith(line, "\t")) {
      absl::StrAppend(current, line.substr(1), "\n");
      continue;
    }
    current = nullptr;
    if (absl::EndsWith(line, "plan:") && absl::StrContains(line, "[history-service")) {
      current = &plans.emplace_back();
    }
  }
  return plans;
}

// Each node of `plan` that executed a scan of a monthly partition.
void MonthScans(const Struct& node, std::vector<std::string>& out) {
  const auto& f = node.fields();
  const auto relation = f.find("Relation Name");
  const auto loops = f.find("Actual Loops");
  if (relation != f.end() &&
      absl::StartsWith(relation->second.string_value(), "BookingStatusHistory_y") &&
      loops != f.end() && loops->second.number_value() > 0) {
    out.push_back(
        absl::StrCat(f.at("Node Type").string_value(), " on ", relation->second.string_value()));
  }
  const auto children = f.find("Plans");
  if (children == f.end()) return;
  for (const Value& child : children->second.list_value().values()) {
    MonthScans(child.struct_value(), out);
  }
}

class HistoryPruningTest : public PgSuite {};

// What the service does, each kind of call once or more.
void Exercise(const ServiceSet& set) {
  const std::string target = set.history_target();
  IngestAll(target, Chain("prune-1", 4, 6, 100));
  IngestAll(target, Chain("prune-9", 1, 2, 900));
  {
    IngestClient again(target);
    absl::StatusOr<history::v1::IngestAck> ack = again.Send(Chain("prune-2", 2, 2, 200));
    ASSERT_TRUE(ack.ok() && ack->duplicates() == 1) << ack.status();
  }
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  for (const char* booking : {"prune-1", "prune-3", "nobody"}) {
    grpc::ClientContext read, verify;
    history::v1::GetBookingHistoryRequest get;
    get.set_booking_id(booking);
    history::v1::GetBookingHistoryResponse page;
    EXPECT_TRUE(stub->GetBookingHistory(&read, get, &page).ok()) << booking;
    history::v1::VerifyHistoryRequest check;
    check.set_booking_id(booking);
    history::v1::VerifyHistoryResponse verified;
    EXPECT_TRUE(stub->VerifyHistory(&verify, check, &verified).ok()) << booking;
  }
  history::v1::WatchHistoryRequest one;
  one.set_from_start(true);
  one.set_booking_id("prune-1");
  EXPECT_EQ(Keys(OpenWatch(target, one)->Entries(6)), ExpectedKeys("prune-1", 1, 6));
  history::v1::WatchHistoryRequest all;
  all.set_from_start(true);
  EXPECT_EQ(OpenWatch(target, all)->Entries(10).size(), 10u);
  ASSERT_TRUE(WaitForEveryLeaf(set.history_url())) << set.Logs();
}

TEST_F(HistoryPruningTest, EveryQueryTheServiceRunsReachesOnlyThePartitionsItNeeds) {
  auto set = ServiceSet::Create(*pg_, "pruning");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE((*set)->StartHistory().ok()) << (*set)->Logs();
  const std::string url = (*set)->history_url();
  for (int b = 1; b <= 5; ++b)
    IngestAll((*set)->history_target(), Chain(absl::StrCat("prune-", b), 1, 3, b * 100));
  absl::StatusOr<int> rc =
      RunCommand({MigratorBin(), "partition-history", "--history-database-url", url}, {},
                 (*set)->log_dir() + "/partition.out");
  ASSERT_TRUE(rc.ok() && *rc == 0) << ReadFile((*set)->log_dir() + "/partition.out");
  Exec(url, "ALTER SYSTEM SET log_line_prefix = '%m [%a] '");
  Exec(url, "SELECT pg_reload_conf()");
  Exec(url, R"(DO $$ BEGIN EXECUTE format(
      'ALTER DATABASE %I SET session_preload_libraries = ''auto_explain''', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_min_duration = 0', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_analyze = on', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_timing = off', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_nested_statements = on',
                   current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_format = json', current_database());
    END $$)");
  ASSERT_TRUE((*set)->StopHistory(SIGTERM).ok());
  const std::string log_path = pg_->dir() + "/server.log";
  const size_t from = ReadFile(log_path).size();
  ASSERT_TRUE((*set)->StartHistory().ok()) << (*set)->Logs();  // sessions with auto_explain
  Exercise(**set);
  ASSERT_TRUE((*set)->StopHistory(SIGTERM).ok());

  int history_plans = 0;
  std::vector<std::string> unpruned;
  for (const std::string& text : PlansIn(ReadFile(log_path), from)) {
    Struct plan;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &plan).ok()) << text;
    const std::string query = plan.fields().at("Query Text").string_value();
    if (!absl::StrContains(query, "\"BookingStatusHistory\"")) continue;
    ++history_plans;
    std::vector<std::string> scans;
    MonthScans(plan.fields().at("Plan").struct_value(), scans);
    if (!scans.empty()) unpruned.push_back(absl::StrCat(absl::StrJoin(scans, ", "), "\n", query));
  }
  // Not vacuous: the service's own statements were seen, dozens of them.
  EXPECT_GE(history_plans, 30);
  EXPECT_TRUE(unpruned.empty()) << unpruned.size() << " plan(s) scanned a month that holds none "
                                << "of the rows:\n"
                                << absl::StrJoin(unpruned, "\n\n");
}

}  // namespace
}  // namespace booking::testing
