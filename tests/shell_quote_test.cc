// Commands the migrator echoes for pasting ("next: run ..."): every word
// survives bash as it was, whatever it holds, and the echo carries the
// options of the run the next command uses.
#include "common/shell_quote.h"

#include <stdio.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "migrator/status_enum/next_command.h"

namespace booking {
namespace {

// What bash makes of `command_line` as the arguments of printf: the words,
// each ended by a NUL (so a newline inside one is kept).
std::vector<std::string> BashWords(const std::string& command_line) {
  const std::string script = "printf '%s\\0' " + command_line;
  const std::string run = "bash -c " + ShellQuote(script);
  FILE* pipe = popen(run.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pipe == nullptr ? -1 : pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << run;
  std::vector<std::string> words = absl::StrSplit(out, '\0');
  if (!words.empty() && words.back().empty()) words.pop_back();
  return words;
}

const std::vector<std::string>& Hostile() {
  static const auto* const values = new std::vector<std::string>{
      R"("workStartedAt" IS NOT NULL)",
      "it's",
      "'",
      "''",
      R"(a "b" 'c' $HOME `id` $(id) \ \\ ! * ? ~ # ; & | < > ( ) { } [ ])",
      "two\nlines\ttab",
      " leading and trailing ",
      "-n",
      "--flag=value with space",
      "ünïcödé €",
      "%s %d \\0",
      "$'\\x41'",
      "plain-word_1.2:3,4@5%6+7=8/9",
  };
  return *values;
}

TEST(ShellQuote, LeavesPlainWordsAsTheyAre) {
  EXPECT_EQ(ShellQuote("migrator"), "migrator");
  EXPECT_EQ(ShellQuote("--batch-size=500"), "--batch-size=500");
  EXPECT_EQ(ShellQuote("20ms"), "20ms");
}

TEST(ShellQuote, QuotesLikeShlex) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), R"('it'"'"'s')");
  EXPECT_EQ(ShellQuote(R"("x" IS NOT NULL)"), R"('"x" IS NOT NULL')");
  EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
}

TEST(ShellQuote, EveryHostileWordSurvivesBash) {
  for (const std::string& value : Hostile()) {
    EXPECT_EQ(BashWords(ShellQuote(value)), std::vector<std::string>{value}) << value;
  }
  EXPECT_EQ(BashWords(ShellCommand(Hostile())), Hostile());
  EXPECT_EQ(BashWords(ShellCommand({"a", "", "b"})), (std::vector<std::string>{"a", "", "b"}));
}

TEST(NextCommand, CarriesTheOptionsTheCommandUsesAndSurvivesBash) {
  for (const std::string& value : Hostile()) {
    migrator::PhaseOptions options;
    options.in_service_rule = value;
    options.batch_size = 500;
    options.throttle = absl::Milliseconds(10);
    options.assume_handled = {"function \"f\"(text)", value};
    options.dry_run = true;  // never echoed: the next command is the real run
    const std::vector<std::string> expected = {
        "migrator",         "backfill",        "--in-service-rule=" + value,
        "--batch-size=500", "--throttle=10ms", "--assume-handled=function \"f\"(text);" + value};
    EXPECT_EQ(migrator::NextCommandWords({"backfill"}, options), expected);
    EXPECT_EQ(BashWords(migrator::NextCommand({"backfill"}, options)), expected) << value;
  }
}

TEST(NextCommand, LeavesOutWhatTheCommandDoesNotUse) {
  migrator::PhaseOptions options;
  options.in_service_rule = "x";
  options.workers = 4;
  options.force = true;
  options.compatibility_window = absl::Hours(1);
  EXPECT_EQ(migrator::NextCommand({"verify"}, options), "migrator verify");
  EXPECT_EQ(migrator::NextCommand({"contract"}, options),
            "migrator contract --compatibility-window=1h --force");
  EXPECT_EQ(migrator::NextCommand({"rollback"}, options), "migrator rollback --workers=4");
  EXPECT_EQ(migrator::NextCommand({"expand"}, migrator::PhaseOptions()), "migrator expand");
}

}  // namespace
}  // namespace booking
