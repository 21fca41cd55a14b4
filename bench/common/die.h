// How a benchmark gives up: Die throws, and RunBench, around the program's
// main, prints the message and returns 1 once the stack has unwound, so the
// PostgreSQL servers and services the run started are stopped by their
// destructors (tests/support) instead of being left running. Called off the
// main thread, Die prints and exits at once (an exception cannot cross a
// std::thread).
#ifndef BENCH_COMMON_DIE_H_
#define BENCH_COMMON_DIE_H_

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace booking::bench {

struct BenchFailure {
  std::string what;
};

namespace internal {
inline std::thread::id& MainThread() {
  static std::thread::id id;
  return id;
}
inline std::string& ProgramName() {
  static std::string name = "bench";
  return name;
}
}  // namespace internal

[[noreturn]] inline void Die(const std::string& what) {
  if (std::this_thread::get_id() != internal::MainThread()) {
    std::fprintf(stderr, "%s: %s\n", internal::ProgramName().c_str(), what.c_str());
    std::exit(1);
  }
  throw BenchFailure{what};
}

inline void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

// Runs `main` (on this thread, the program's main thread); a Die in it ends
// here with exit status 1.
inline int RunBench(const std::string& program, const std::function<int()>& main) {
  internal::MainThread() = std::this_thread::get_id();
  internal::ProgramName() = program;
  try {
    return main();
  } catch (const BenchFailure& f) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), f.what.c_str());
    return 1;
  }
}

}  // namespace booking::bench

#endif  // BENCH_COMMON_DIE_H_
