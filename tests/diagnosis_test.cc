// Mistakes an operator makes when wiring the binaries up, each diagnosed as
// what it is (issue 23), with its exit code (README "Exit codes"): the
// migrator given the other store's URL (both ways, migrated or not) or a
// database of neither; a service given the other store; a port of each
// listener taken; a policy naming a method or group that does not exist.
// Real PostgreSQL, real processes.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kExitFailed = 1;   // README "Exit codes": could not start serving
constexpr int kExitUsage = 2;    // a flag, a value or a file the setting names
constexpr int kExitRefused = 6;  // migrator: refused before anything changed

// A port some other process listens on, for as long as this lives.
class TakenPort {
 public:
  TakenPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 1) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
      address_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
    }
  }
  ~TakenPort() { close(fd_); }
  TakenPort(const TakenPort&) = delete;
  TakenPort& operator=(const TakenPort&) = delete;
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
};

struct Outcome {
  int code = -1;
  std::string output;
};

class DiagnosisTest : public PgSuite {
 protected:
  // One migrated pair of stores for the suite: nothing here changes them.
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    absl::StatusOr<std::string> booking = pg_->CreateDatabase("diag_booking");
    absl::StatusOr<std::string> history = pg_->CreateDatabase("diag_history");
    ASSERT_TRUE(booking.ok() && history.ok()) << booking.status() << history.status();
    booking_url_ = *booking;
    history_url_ = *history;
    const MigratorRun up = RunMigrator(*pg_, booking_url_, history_url_, {"up"});
    ASSERT_EQ(up.exit_code, 0) << up.output;
  }

  static std::string NewDatabase(const std::string& name) {
    absl::StatusOr<std::string> url = pg_->CreateDatabase(name);
    EXPECT_TRUE(url.ok()) << url.status();
    return url.value_or("");
  }

  // What each service needs to start on `url`, plaintext, on a free port.
  static std::vector<std::string> ServiceArgs(const std::string& bin, const std::string& url) {
    std::vector<std::string> args = {bin, "--database-url=" + url, "--insecure-plaintext",
                                     "--listen=127.0.0.1:0"};
    if (bin == BookingServiceBin()) args.push_back("--history-target=127.0.0.1:1");
    return args;
  }
  static std::string StoreOf(const std::string& bin) {
    return bin == BookingServiceBin() ? booking_url_ : history_url_;
  }

  // Runs to its end (a start that must fail).
  Outcome Run(const std::vector<std::string>& argv) {
    const std::string log = absl::StrCat(pg_->dir(), "/diagnosis-", ++runs_, ".log");
    std::remove(log.c_str());
    absl::StatusOr<int> code = RunCommand(argv, {}, log, absl::Seconds(60));
    EXPECT_TRUE(code.ok()) << code.status();
    return {code.value_or(-1), ReadFile(log)};
  }

  // Starts a service that keeps running, until its log has `wanted`; then
  // stops it. Returns the log.
  std::string LogUntil(const std::vector<std::string>& argv, const std::string& wanted) {
    const std::string log = absl::StrCat(pg_->dir(), "/diagnosis-", ++runs_, ".log");
    std::remove(log.c_str());
    absl::StatusOr<Process> p = Process::Spawn(argv, {}, log);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    const absl::Status seen =
        WaitFor([&] { return absl::StrContains(ReadFile(log), wanted) || !p->Running(); },
                absl::Seconds(30), wanted);
    EXPECT_TRUE(seen.ok()) << seen << "\n" << ReadFile(log);
    p->Signal(SIGTERM);
    (void)p->Wait(absl::Seconds(30));
    return ReadFile(log);
  }

  static std::string WritePolicy(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(pg_->dir(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  inline static std::string booking_url_, history_url_;
  int runs_ = 0;
};

TEST_F(DiagnosisTest, MigratorGivenSwappedUrlsSaysWhichStoreItFoundAndChangesNothing) {
  const MigratorRun swapped = RunMigrator(*pg_, history_url_, booking_url_, {"up"});
  EXPECT_EQ(swapped.exit_code, kExitRefused) << swapped.output;
  EXPECT_TRUE(absl::StrContains(swapped.output,
                                "--booking-database-url (or BOOKING_DATABASE_URL) points at the "
                                "history store (its ledger has 0001_history_base"))
      << swapped.output;
  EXPECT_TRUE(absl::StrContains(swapped.output, "pass the booking database's URL"))
      << swapped.output;

  const MigratorRun history =
      RunMigrator(*pg_, booking_url_, booking_url_, {"up", "--store=history"});
  EXPECT_EQ(history.exit_code, kExitRefused) << history.output;
  EXPECT_TRUE(absl::StrContains(history.output,
                                "--history-database-url (or HISTORY_DATABASE_URL) points at the "
                                "booking store (its ledger has 0001_booking_base"))
      << history.output;
  EXPECT_TRUE(absl::StrContains(history.output, "tables \"Booking\"")) << history.output;
  EXPECT_FALSE(absl::StrContains(history.output, "a newer migrator")) << history.output;

  // status and the phases say the same, not "run `migrator up`".
  const MigratorRun status = RunMigrator(*pg_, history_url_, history_url_, {"status"});
  EXPECT_EQ(status.exit_code, kExitRefused) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "points at the history store")) << status.output;
  const MigratorRun plan = RunMigrator(*pg_, history_url_, "", {"plan"});
  EXPECT_EQ(plan.exit_code, kExitRefused) << plan.output;
  EXPECT_TRUE(absl::StrContains(plan.output, "points at the history store")) << plan.output;

  EXPECT_EQ(QueryValue(booking_url_, R"(SELECT to_regclass('"BookingStatusHistory"') IS NULL)"),
            "t");
  EXPECT_EQ(QueryValue(history_url_, R"(SELECT to_regclass('"Booking"') IS NULL)"), "t");
}

// A booking store no migrator has touched yet (Prisma's tables alone) is
// recognised by its tables; a database of neither store is refused with
// what it holds; an empty one gets the store.
TEST_F(DiagnosisTest, MigratorRecognisesStoresByTheirTablesAndRefusesForeignOnes) {
  const std::string prisma = NewDatabase("diag_prisma");
  Exec(prisma, R"(CREATE TABLE "Booking" (id TEXT PRIMARY KEY))");
  const MigratorRun as_history = RunMigrator(*pg_, "", prisma, {"up", "--store=history"});
  EXPECT_EQ(as_history.exit_code, kExitRefused) << as_history.output;
  EXPECT_TRUE(absl::StrContains(as_history.output,
                                "points at the booking store (tables "
                                "\"Booking\")"))
      << as_history.output;

  const std::string foreign = NewDatabase("diag_foreign");
  Exec(foreign, R"(CREATE TABLE "Invoice" (id INT); CREATE TABLE "Customer" (id INT))");
  for (const std::string store : {"booking", "history"}) {
    const MigratorRun run = RunMigrator(*pg_, foreign, foreign, {"up", "--store=" + store});
    EXPECT_EQ(run.exit_code, kExitRefused) << run.output;
    EXPECT_TRUE(absl::StrContains(run.output, absl::StrCat("holds no ", store,
                                                           " store but other tables "
                                                           "(\"Customer\", \"Invoice\")")))
        << run.output;
  }
  EXPECT_EQ(QueryValue(foreign, R"(SELECT to_regclass('"MigrationLedger"') IS NULL)"), "t");

  const std::string empty = NewDatabase("diag_empty");
  const MigratorRun fresh = RunMigrator(*pg_, "", empty, {"up", "--store=history"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.output;
}

// A database the server does not have: no retry creates it (usage, 2).
TEST_F(DiagnosisTest, MigratorGivenADatabaseThatDoesNotExistExits2NamingTheSetting) {
  const std::string missing = pg_->Url("diag_no_such_database");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"up"}, std::vector<std::string>{"plan"}}) {
    const MigratorRun run = RunMigrator(*pg_, missing, history_url_, args);
    EXPECT_EQ(run.exit_code, kExitUsage) << run.output;
    EXPECT_TRUE(absl::StrContains(run.output,
                                  "--booking-database-url (or BOOKING_DATABASE_URL) names a "
                                  "database the server does not have (database "
                                  "\"diag_no_such_database\" does not exist)"))
        << run.output;
  }
  const MigratorRun history = RunMigrator(*pg_, booking_url_, missing, {"up"});
  EXPECT_EQ(history.exit_code, kExitUsage) << history.output;
  EXPECT_TRUE(absl::StrContains(history.output, "--history-database-url (or HISTORY_DATABASE_URL)"))
      << history.output;
}

TEST_F(DiagnosisTest, EachServiceOnTheOtherStoreSaysWhichStoreItFound) {
  for (const auto& [bin, other, found] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {BookingServiceBin(), history_url_, "points at the history store (tables "},
           {HistoryServiceBin(), booking_url_, "points at the booking store (tables "}}) {
    const std::string log = LogUntil(ServiceArgs(bin, other), found);
    EXPECT_TRUE(absl::StrContains(log, found)) << log;
    EXPECT_FALSE(absl::StrContains(log, "run `migrator up`")) << log;
  }
  // A store that is simply not migrated keeps its advice.
  const std::string empty = NewDatabase("diag_unmigrated");
  const std::string log = LogUntil(ServiceArgs(HistoryServiceBin(), empty), "run `migrator up`");
  EXPECT_TRUE(absl::StrContains(log, "history store schema is missing or old")) << log;
}

TEST_F(DiagnosisTest, ATakenPortOfEachListenerNamesItsFlagAndAddress) {
  for (const std::string& bin : {BookingServiceBin(), HistoryServiceBin()}) {
    for (const std::string flag : {"--listen", "--health-listen", "--metrics-listen"}) {
      TakenPort taken;
      ASSERT_FALSE(taken.address().empty());
      std::vector<std::string> argv = ServiceArgs(bin, StoreOf(bin));
      argv.push_back(absl::StrCat(flag, "=", taken.address()));  // the last --listen wins
      const Outcome out = Run(argv);
      EXPECT_EQ(out.code, kExitFailed) << bin << " " << flag << "\n" << out.output;
      EXPECT_TRUE(absl::StrContains(
          out.output, absl::StrCat(flag, " ", taken.address(),
                                   ": address already in use (another process listens there; "
                                   "pick another port or stop it)")))
          << bin << " " << flag << "\n"
          << out.output;
      EXPECT_FALSE(absl::StrContains(out.output, "CivetServer")) << out.output;

      // An address that is no HOST:PORT is a bad value: exit 2, at once.
      argv.back() = absl::StrCat(flag, "=localhost");
      const Outcome bad = Run(argv);
      EXPECT_EQ(bad.code, kExitUsage) << bin << " " << flag << "\n" << bad.output;
      EXPECT_TRUE(absl::StrContains(bad.output, flag + " \\\"localhost\\\": not HOST:PORT"))
          << bad.output;
    }
  }
}

TEST_F(DiagnosisTest, APolicyNamingAnUnknownMethodOrGroupIsRefusedWithTheClosestName) {
  struct Case {
    std::string bin, policy, wanted;
  };
  const std::vector<Case> cases = {
      {BookingServiceBin(), "allow token:a /booking.v1.BookingService/ChangeStatuss\n",
       "did you mean /booking.v1.BookingService/ChangeStatus?"},
      {HistoryServiceBin(), "allow token:a /history.v1.HistorySrvice/GetBookingHistory\n",
       "did you mean /history.v1.HistoryService/GetBookingHistory?"},
      {BookingServiceBin(),
       "group writers token:a\nallow writer /booking.v1.BookingService/ChangeStatus\n",
       "(did you mean writers?)"},
      {HistoryServiceBin(),
       "group readers token:a\nallow raeders /history.v1.HistoryService/ListHistory\n",
       "(did you mean readers?)"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string path = WritePolicy(absl::StrCat("policy-", ++n), c.policy);
    std::vector<std::string> argv = ServiceArgs(c.bin, StoreOf(c.bin));
    argv.push_back("--authz-policy=" + path);
    const Outcome out = Run(argv);
    EXPECT_EQ(out.code, kExitUsage) << c.policy << out.output;
    EXPECT_TRUE(absl::StrContains(out.output, path + ":")) << out.output;
    EXPECT_TRUE(absl::StrContains(out.output, c.wanted)) << c.wanted << "\n" << out.output;
  }
}

}  // namespace
}  // namespace booking::testing
