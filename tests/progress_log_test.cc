// A progress bar redrawn in place (migrator/status_enum/progress.h) and log
// records written meanwhile from other threads (common/log.h), both into one
// file as a Job's log or a test's capture has them: every record starts a
// line of its own, never after a bar on the bar's line.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "migrator/status_enum/progress.h"
#include "tests/support/wait.h"

namespace booking::migrator {
namespace {

using ::booking::testing::Pace;

TEST(ProgressLog, RecordsNeverLandOnTheBarsLine) {
  const std::string path = ::testing::TempDir() + "/progress_log_test.out";
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  ASSERT_GE(file, 0);
  std::cout.flush();
  const int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  dup2(file, STDOUT_FILENO);
  dup2(file, STDERR_FILENO);
  std::atomic<bool> done{false};
  std::vector<std::thread> loggers;
  for (int t = 0; t < 3; ++t) {
    loggers.emplace_back([&] {
      while (!done.load()) LogInfo("step committed", {{"step", "relabel batch"}});
    });
  }
  Progress bar(std::cout, "rollback", 4000, /*bar=*/true);
  const absl::Time end = absl::Now() + absl::Seconds(2);
  while (absl::Now() < end) {  // a redraw every 100 ms: about 20
    bar.Add(1);
    Pace(absl::Milliseconds(5));
  }
  done = true;
  for (std::thread& t : loggers) t.join();
  bar.Finish();
  std::cout.flush();
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(file);
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  int bars = 0, records = 0;
  for (absl::string_view line : absl::StrSplit(all.str(), '\n')) {
    for (absl::string_view piece : absl::StrSplit(line, '\r')) {
      if (absl::StartsWith(piece, "rollback [")) {
        ++bars;
        EXPECT_FALSE(absl::StrContains(piece, "{\"time\"")) << "a record after the bar: " << piece;
      } else if (!piece.empty()) {
        ++records;
        EXPECT_TRUE(absl::StartsWith(piece, "{\"time\"")) << piece;
      }
    }
  }
  EXPECT_GE(bars, 10);
  EXPECT_GT(records, 100);
  std::remove(path.c_str());  // ~150 MB: the loggers write as fast as they can
}

}  // namespace
}  // namespace booking::migrator
