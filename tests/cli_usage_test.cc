// Every binary's command line, as an operator or a Kubernetes Job meets it:
// --help exits 0 and shows the dashed flag names; a mistyped flag, a value
// its flag's type refuses, a flag without its value and an argument where
// none is taken exit 2 (usage: fix the command, do not retry) naming what is
// wrong. Real binaries as processes; no PostgreSQL.
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace booking::testing {
namespace {

constexpr int kExitUsage = 2;

struct BadValue {
  std::string flag;  // dashed, as typed
  std::string value;
};

struct Cli {
  std::string name;
  std::string bin;
  std::vector<std::string> command;  // a valid command after the flags (may be empty)
  std::string own_flag;              // a flag of this binary, as --help must show it
  std::string typo;                  // a flag near own_flag
  std::vector<BadValue> bad_values;  // one per flag type the binary has (int, duration, bool)
  std::vector<std::string> extra;    // a positional argument where none is taken
};

void PrintTo(const Cli& cli, std::ostream* os) { *os << cli.name; }

// Settings that would let a service start, so that only the stray argument
// can refuse it.
constexpr char kStore[] = "--database-url=postgresql://127.0.0.1:1/none";

std::vector<Cli> Binaries() {
  return {
      {"booking-service",
       BOOKING_SERVICE_BIN,
       {},
       "--relay-batch-size",
       "--relay-batchsize",
       {{"--db-pool-size", "ten"}, {"--drain-timeout", "10"}, {"--insecure-plaintext", "maybe"}},
       {kStore, "--history-target=127.0.0.1:1", "--insecure-plaintext", "extra"}},
      {"history-service",
       HISTORY_SERVICE_BIN,
       {},
       "--watch-buffer",
       "--watch-bufer",
       {{"--max-reads-per-caller", "2x"}, {"--read-wait", "10"}, {"--insecure-plaintext", "maybe"}},
       {kStore, "--insecure-plaintext", "extra"}},
      {"migrator",
       MIGRATOR_BIN,
       {"status"},
       "--batch-size",
       "--batchsize",
       {{"--batch-size", "lots"}, {"--throttle", "10"}, {"--dry-run", "perhaps"}},
       {"status", "extra"}},
      {"history-verify",
       HISTORY_VERIFY_BIN,
       {"verify"},
       "--public-key",
       "--publickey",
       {},
       {"verify", "extra"}},
      {"booking-demo",
       BOOKING_DEMO_BIN,
       {},
       "--booking-target",
       "--booking-targt",
       {{"--history-wait", "10"}, {"--insecure-plaintext", "maybe"}},
       {"--insecure-plaintext", "--booking-target=127.0.0.1:1", "extra"}},
  };
}

class CliUsageTest : public ::testing::TestWithParam<Cli> {
 protected:
  struct Outcome {
    int code = -1;
    std::string output;
  };

  // Runs the binary with `args` (then its command); `shell_tail` is appended
  // through /bin/sh (e.g. "2>/dev/null" to keep stdout alone).
  Outcome Run(const std::vector<std::string>& args, const std::string& shell_tail = "") {
    const Cli& cli = GetParam();
    // exec: a timeout's SIGKILL reaches the binary, not only the shell.
    std::string line = "exec " + cli.bin;
    for (const std::string& a : args) absl::StrAppend(&line, " '", a, "'");
    absl::StrAppend(&line, " ", shell_tail);
    const std::string log =
        absl::StrCat(::testing::TempDir(), "/cli_usage_", cli.name, "_", ++runs_, ".log");
    std::remove(log.c_str());  // RunCommand appends
    absl::StatusOr<int> code = RunCommand({"/bin/sh", "-c", line}, {}, log, absl::Seconds(60));
    EXPECT_TRUE(code.ok()) << code.status();
    return Outcome{code.ok() ? *code : -1, absl::StrCat("$ ", line, "\n", ReadFile(log))};
  }

  std::vector<std::string> WithCommand(std::vector<std::string> flags) {
    for (const std::string& c : GetParam().command) flags.push_back(c);
    return flags;
  }

  int runs_ = 0;
};

TEST_P(CliUsageTest, HelpExitsZeroWithDashedNamesOnStdout) {
  for (const char* help : {"--help", "-h", "--helpfull"}) {
    const Outcome out = Run({help}, "2>/dev/null");
    EXPECT_EQ(out.code, 0) << help << "\n" << out.output;
    EXPECT_TRUE(absl::StrContains(out.output, GetParam().own_flag)) << help << "\n" << out.output;
    EXPECT_FALSE(absl::StrContains(out.output, ".cc")) << out.output;
    EXPECT_FALSE(absl::StrContains(out.output, "No flags matched")) << out.output;
    EXPECT_FALSE(absl::StrContains(out.output, "--flagfile")) << out.output;
  }
}

TEST_P(CliUsageTest, FlagNearAKnownOneIsRefusedWithTheSuggestion) {
  const Outcome out = Run(WithCommand({GetParam().typo + "=1"}));
  EXPECT_EQ(out.code, kExitUsage) << out.output;
  EXPECT_TRUE(absl::StrContains(out.output, "unknown flag " + GetParam().typo)) << out.output;
  EXPECT_TRUE(absl::StrContains(out.output, "did you mean " + GetParam().own_flag + "?"))
      << out.output;
}

TEST_P(CliUsageTest, FlagFarFromAllIsRefusedWithoutSuggestion) {
  const Outcome out = Run(WithCommand({"--frobnicate-widgets"}));
  EXPECT_EQ(out.code, kExitUsage) << out.output;
  EXPECT_TRUE(absl::StrContains(out.output, "unknown flag --frobnicate-widgets")) << out.output;
  EXPECT_FALSE(absl::StrContains(out.output, "did you mean")) << out.output;
}

TEST_P(CliUsageTest, ValueTheFlagsTypeRefusesNamesFlagAndValue) {
  for (const BadValue& bad : GetParam().bad_values) {
    for (const std::vector<std::string>& spelling :
         {std::vector<std::string>{bad.flag + "=" + bad.value},
          std::vector<std::string>{bad.flag, bad.value}}) {
      if (spelling.size() == 2 && absl::StrContains(bad.value, "maybe")) continue;  // bool
      const Outcome out = Run(WithCommand(spelling));
      EXPECT_EQ(out.code, kExitUsage) << bad.flag << " " << bad.value << "\n" << out.output;
      EXPECT_TRUE(absl::StrContains(out.output, bad.flag)) << out.output;
      EXPECT_TRUE(absl::StrContains(out.output, bad.value)) << out.output;
    }
  }
}

TEST_P(CliUsageTest, FlagWithoutItsValueIsRefused) {
  // own_flag takes a value in every binary; nothing follows it.
  std::vector<std::string> args = GetParam().command;
  args.push_back(GetParam().own_flag);
  const Outcome out = Run(args);
  EXPECT_EQ(out.code, kExitUsage) << out.output;
  EXPECT_TRUE(absl::StrContains(out.output, GetParam().own_flag)) << out.output;
}

TEST_P(CliUsageTest, ArgumentWhereNoneIsTakenIsRefused) {
  const Outcome out = Run(GetParam().extra);
  EXPECT_EQ(out.code, kExitUsage) << out.output;
  EXPECT_TRUE(absl::StrContains(out.output, "extra")) << out.output;
}

INSTANTIATE_TEST_SUITE_P(EveryBinary, CliUsageTest, ::testing::ValuesIn(Binaries()),
                         [](const ::testing::TestParamInfo<Cli>& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace booking::testing
