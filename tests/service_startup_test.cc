// The shared service startup (common/service_startup.h) as operators meet
// it: each binary's --help names its own environment variables and defaults
// for the flags defined once, each reads them under its own prefix, and a
// bad or missing setting exits 2 before anything starts. No store needed:
// every case ends before the first connection.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace booking {
namespace {

struct Outcome {
  int code = -1;
  std::string output;  // whitespace runs as one space: --help wraps lines
};

Outcome Start(const std::string& bin, const std::vector<std::string>& args,
              const std::vector<std::string>& env = {}) {
  static int n = 0;
  const std::string log = absl::StrCat(::testing::TempDir(), "/service_startup_", ++n, ".log");
  std::remove(log.c_str());  // RunCommand appends
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<int> code = testing::RunCommand(argv, env, log, absl::Seconds(30));
  EXPECT_TRUE(code.ok()) << code.status();
  const std::string text = testing::ReadFile(log);
  return {code.value_or(-1),
          absl::StrJoin(absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty()), " ")};
}

TEST(ServiceStartupTest, HelpNamesEachServicesOwnEnvironmentAndDefaults) {
  const Outcome booking = Start(BOOKING_SERVICE_BIN, {"--help"});
  EXPECT_EQ(booking.code, 0);  // README "Exit codes"
  for (const char* want : {"[env BOOKING_LISTEN, default 0.0.0.0:50051]",
                           "booking store, a libpq URL [env BOOKING_DATABASE_URL",
                           "the one schema holding \"Booking\"",
                           "--db-pool-size=N booking store connections used by calls",
                           "[env BOOKING_GRPC_MAX_THREADS, default 64]",
                           "how long in-flight calls may take to finish [default 20s]"}) {
    EXPECT_TRUE(absl::StrContains(booking.output, want)) << want << "\n" << booking.output;
  }
  EXPECT_FALSE(absl::StrContains(booking.output, "HISTORY_LISTEN")) << booking.output;

  const Outcome history = Start(HISTORY_SERVICE_BIN, {"--help"});
  EXPECT_EQ(history.code, 0);
  for (const char* want : {"[env HISTORY_LISTEN, default 0.0.0.0:50052]",
                           "history store, a libpq URL [env HISTORY_DATABASE_URL",
                           "the one schema holding \"BookingStatusHistory\"",
                           "[env HISTORY_MAX_CONNECTIONS, default 4096]",
                           "in-flight calls and ingest streams may take to finish [default 10s]"}) {
    EXPECT_TRUE(absl::StrContains(history.output, want)) << want << "\n" << history.output;
  }
  EXPECT_FALSE(absl::StrContains(history.output, "BOOKING_LISTEN")) << history.output;
}

TEST(ServiceStartupTest, AMissingRequiredSettingExits2NamingIt) {
  const Outcome booking = Start(BOOKING_SERVICE_BIN, {"--database-url=postgresql:///x"});
  EXPECT_EQ(booking.code, 2) << booking.output;
  EXPECT_TRUE(absl::StrContains(booking.output,
                                "--database-url (or BOOKING_DATABASE_URL) and --history-target (or "
                                "HISTORY_TARGET) are required; see --help"))
      << booking.output;
  const Outcome history = Start(HISTORY_SERVICE_BIN, {});
  EXPECT_EQ(history.code, 2) << history.output;
  EXPECT_TRUE(absl::StrContains(history.output,
                                "--database-url (or HISTORY_DATABASE_URL) is required; see --help"))
      << history.output;
}

// Each service reads the shared flags' environment under its own prefix,
// and only that: the other service's variable is not its business.
TEST(ServiceStartupTest, EachServiceReadsItsOwnPrefix) {
  const std::vector<std::string> booking_args = {"--database-url=postgresql:///x",
                                                 "--history-target=localhost:1"};
  const std::string refused = "--grpc-max-threads must be a positive integer";
  const Outcome own = Start(BOOKING_SERVICE_BIN, booking_args, {"BOOKING_GRPC_MAX_THREADS=0"});
  EXPECT_EQ(own.code, 2) << own.output;
  EXPECT_TRUE(absl::StrContains(own.output, refused)) << own.output;
  const Outcome other = Start(BOOKING_SERVICE_BIN, booking_args, {"HISTORY_GRPC_MAX_THREADS=0"});
  EXPECT_EQ(other.code, 2) << other.output;  // TLS is still required
  EXPECT_FALSE(absl::StrContains(other.output, refused)) << other.output;
  EXPECT_TRUE(absl::StrContains(other.output, "TLS is required")) << other.output;

  const Outcome history =
      Start(HISTORY_SERVICE_BIN, {},
            {"HISTORY_DATABASE_URL=postgresql:///x", "HISTORY_GRPC_MAX_THREADS=0"});
  EXPECT_EQ(history.code, 2) << history.output;
  EXPECT_TRUE(absl::StrContains(history.output, refused)) << history.output;
}

// The relay's stream count is refused outside 1..64 before anything starts.
TEST(ServiceStartupTest, BookingRefusesIngestStreamsOutOfRange) {
  for (const char* bad : {"0", "-1", "65"}) {
    const Outcome out = Start(BOOKING_SERVICE_BIN,
                              {"--database-url=postgresql:///x", "--history-target=localhost:1",
                               "--insecure-plaintext", absl::StrCat("--ingest-streams=", bad)});
    EXPECT_EQ(out.code, 2) << bad << ": " << out.output;
    EXPECT_TRUE(absl::StrContains(
        out.output, absl::StrCat("--ingest-streams must be between 1 and 64, not ", bad)))
        << out.output;
  }
}

}  // namespace
}  // namespace booking
