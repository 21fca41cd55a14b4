// deploy/monitoring: the Grafana dashboard and the Prometheus alert rules.
// - the dashboard parses as JSON and is a dashboard model (schema version,
//   a Prometheus datasource variable, every query on it, the monitoring
//   table's panels);
// - promtool accepts the rules file, and every dashboard query as PromQL;
// - every metric any query names is served by the live /metrics of the two
//   services after a few calls (no hand-kept list: what they export);
// - the PromQL name reader itself, on the shapes the files use;
// - an alert watches the held-back table against its cap.
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "booking/v1/booking.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_client.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/promql_names.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

const std::string kDashboard =
    std::string(SOURCE_DIR) + "/deploy/monitoring/grafana-dashboard.json";
const std::string kRules = std::string(SOURCE_DIR) + "/deploy/monitoring/alert-rules.yaml";

google::protobuf::Struct Dashboard() {
  google::protobuf::Struct dashboard;
  const auto parsed = google::protobuf::util::JsonStringToMessage(ReadFile(kDashboard), &dashboard);
  EXPECT_TRUE(parsed.ok()) << kDashboard << ": " << parsed.ToString();
  return dashboard;
}

// Every panel, rows' nested panels included.
void CollectPanels(const google::protobuf::Value& panels,
                   std::vector<google::protobuf::Struct>& out) {
  for (const google::protobuf::Value& p : panels.list_value().values()) {
    out.push_back(p.struct_value());
    auto nested = p.struct_value().fields().find("panels");
    if (nested != p.struct_value().fields().end()) CollectPanels(nested->second, out);
  }
}

std::vector<google::protobuf::Struct> Panels() {
  std::vector<google::protobuf::Struct> panels;
  CollectPanels(Dashboard().fields().at("panels"), panels);
  return panels;
}

std::vector<std::string> DashboardExpressions() {
  std::vector<std::string> exprs;
  for (const google::protobuf::Struct& panel : Panels()) {
    auto targets = panel.fields().find("targets");
    if (targets == panel.fields().end()) continue;
    for (const google::protobuf::Value& t : targets->second.list_value().values()) {
      exprs.push_back(t.struct_value().fields().at("expr").string_value());
    }
  }
  return exprs;
}

// Grafana's interval variables as a plain Prometheus would read them.
std::string AsPlainPromQL(const std::string& expr) {
  return absl::StrReplaceAll(
      expr, {{"$__rate_interval", "5m"}, {"$__interval", "1m"}, {"$__range", "1h"}});
}

// promtool's exit code and output for `check rules` on `path`.
std::pair<int, std::string> PromtoolCheckRules(const std::string& path) {
  const std::string log = ::testing::TempDir() + "/promtool.log";
  std::remove(log.c_str());
  absl::StatusOr<int> code = RunCommand({PROMTOOL_BIN, "check", "rules", path}, {}, log);
  EXPECT_TRUE(code.ok()) << code.status() << " (promtool: the Debian package prometheus, "
                         << "installed by scripts/setup.sh)";
  return {code.value_or(-1), ReadFile(log)};
}

TEST(MonitoringConfigTest, DashboardIsAGrafanaModelOnAPrometheusVariable) {
  const google::protobuf::Struct dashboard = Dashboard();
  EXPECT_GE(dashboard.fields().at("schemaVersion").number_value(), 37);
  EXPECT_FALSE(dashboard.fields().at("uid").string_value().empty());
  bool datasource_variable = false;
  for (const auto& v : dashboard.fields()
                           .at("templating")
                           .struct_value()
                           .fields()
                           .at("list")
                           .list_value()
                           .values()) {
    const auto& f = v.struct_value().fields();
    datasource_variable = datasource_variable || (f.at("type").string_value() == "datasource" &&
                                                  f.at("query").string_value() == "prometheus" &&
                                                  f.at("name").string_value() == "datasource");
  }
  EXPECT_TRUE(datasource_variable) << "no datasource variable of type prometheus";
  std::set<std::string> titles;
  for (const google::protobuf::Struct& panel : Panels()) {
    const std::string title = panel.fields().at("title").string_value();
    titles.insert(title);
    EXPECT_TRUE(panel.fields().contains("gridPos")) << title;
    auto targets = panel.fields().find("targets");
    if (targets == panel.fields().end()) continue;
    EXPECT_EQ(panel.fields().at("datasource").struct_value().fields().at("uid").string_value(),
              "${datasource}")
        << title;
    for (const google::protobuf::Value& t : targets->second.list_value().values()) {
      EXPECT_FALSE(t.struct_value().fields().at("expr").string_value().empty()) << title;
    }
  }
  // The monitoring table of the status migration plan, and the pipeline.
  for (const char* title : {"API error rate", "Booking creation success", "Average response time",
                            "Database: p95 time holding a connection", "Outbox oldest age",
                            "History lag (events)", "Status changes by from and to"}) {
    EXPECT_TRUE(titles.count(title)) << "no panel \"" << title << "\"";
  }
}

TEST(MonitoringConfigTest, PromtoolAcceptsTheRulesAndEveryDashboardQuery) {
  auto [code, output] = PromtoolCheckRules(kRules);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("SUCCESS"), std::string::npos) << output;
  EXPECT_GE(RuleExpressions(ReadFile(kRules)).size(), 5u);
  // The dashboard's queries as recording rules: promtool parses each.
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  const std::vector<std::string> exprs = DashboardExpressions();
  for (size_t i = 0; i < exprs.size(); ++i) {
    absl::StrAppend(&rules, "      - record: dashboard:query_", i, "\n        expr: |\n");
    for (absl::string_view line : absl::StrSplit(AsPlainPromQL(exprs[i]), '\n')) {
      absl::StrAppend(&rules, "          ", line, "\n");
    }
  }
  const std::string path = ::testing::TempDir() + "/dashboard-queries.yaml";
  std::ofstream(path) << rules;
  auto [dashboard_code, dashboard_output] = PromtoolCheckRules(path);
  EXPECT_EQ(dashboard_code, 0) << dashboard_output << "\n" << rules;
  EXPECT_NE(dashboard_output.find(absl::StrCat(exprs.size(), " rules found")), std::string::npos)
      << dashboard_output;
}

// The held-back table's bound is watched: an alert compares its gauge with
// the cap history-service exports (issue 19).
TEST(MonitoringConfigTest, AnAlertWatchesTheHeldBackTableAgainstItsCap) {
  bool found = false;
  for (const std::string& expr : RuleExpressions(ReadFile(kRules))) {
    const std::set<std::string> names = MetricNamesIn(expr);
    found = found ||
            (names.count("history_held_back_rows") && names.count("history_held_back_max_rows"));
  }
  EXPECT_TRUE(found) << kRules;
}

TEST(MonitoringConfigTest, TheNameReaderSkipsFunctionsLabelsAndVariables) {
  EXPECT_EQ(MetricNamesIn("histogram_quantile(0.95, sum by (grpc_method, le) "
                          "(rate(grpc_server_handling_seconds_bucket{grpc_type=\"unary\","
                          "x=~\"a|b\"}[$__rate_interval])))"),
            std::set<std::string>{"grpc_server_handling_seconds_bucket"});
  EXPECT_EQ(MetricNamesIn("max(a_b) > 0\nand\nsum without(x) (rate(c:d[10m])) == 0 offset 5m"),
            (std::set<std::string>{"a_b", "c:d"}));
  EXPECT_EQ(MetricNamesIn("sum(x) / on (pool) group_left(y) z > bool 1e3"),
            (std::set<std::string>{"x", "z"}));
  EXPECT_EQ(RuleExpressions("- alert: A\n  expr: up > 0\n  for: 1m\n- alert: B\n  expr: |\n"
                            "    a\n    / b\n  labels: {}\n"),
            (std::vector<std::string>{"up > 0", "a\n/ b\n"}));
}

class MonitoringNamesTest : public PgSuite {};

// A few calls of each kind, through the relay into history.
void MakeCalls(const ServiceSet& set) {
  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(set.booking_target(), grpc::InsecureChannelCredentials()));
  v1::CreateBookingRequest create;
  create.set_booking_id("monitoring-1");
  create.set_customer_id("customer-1");
  v1::Booking booking;
  grpc::Status s = stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), create, &booking);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ChangeStatusRequest change;
  change.set_booking_id("monitoring-1");
  change.set_target_status(v1::CANCELLED);
  v1::ChangeStatusResponse changed;
  s = stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), change, &changed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetBookingRequest get;
  get.set_booking_id("monitoring-missing");
  EXPECT_FALSE(stub->GetBooking(AuthedContext(ServiceSet::kToken).get(), get, &booking).ok());
}

TEST_F(MonitoringNamesTest, EveryQueryNamesOnlyMetricsTheServicesExport) {
  auto set = ServiceSet::CreateAndStart(*pg_, "monitoring");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_NO_FATAL_FAILURE(MakeCalls(**set));
  // Both events stored in history: the relay's and history's series exist.
  ASSERT_EQ(WaitFor(
                [&] {
                  return ScrapeMetric((*set)->history_metrics_target(),
                                      "history_ingested_events_total")
                             .value_or(0) >= 2;
                },
                absl::Seconds(60), "history_ingested_events_total >= 2", absl::Milliseconds(100)),
            absl::OkStatus())
      << (*set)->Logs();
  std::set<std::string> exported;
  for (const std::string& target :
       {(*set)->booking_metrics_target(), (*set)->history_metrics_target()}) {
    absl::StatusOr<std::vector<MetricSample>> samples = ScrapeSamples(target);
    ASSERT_TRUE(samples.ok()) << samples.status();
    exported.merge(NamesOf(*samples));
  }
  std::vector<std::string> exprs = DashboardExpressions();
  const std::vector<std::string> rules = RuleExpressions(ReadFile(kRules));
  exprs.insert(exprs.end(), rules.begin(), rules.end());
  for (const std::string& expr : exprs) {
    const std::set<std::string> names = MetricNamesIn(expr);
    EXPECT_FALSE(names.empty()) << "names no metric: " << expr;
    for (const std::string& name : names) {
      EXPECT_TRUE(exported.count(name))
          << name << " is not exported by either service; in: " << expr
          << "\nexported: " << absl::StrJoin(exported, " ");
    }
  }
}

}  // namespace
}  // namespace booking::testing
