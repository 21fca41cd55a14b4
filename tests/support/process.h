// Real child processes for tests: spawn, signal, wait with a timeout.
#ifndef TESTS_SUPPORT_PROCESS_H_
#define TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace booking::testing {

class Process {
 public:
  // Starts argv[0] (a path) with the current environment plus `env`
  // ("NAME=value"), stdout and stderr appended to `log_path`.
  static absl::StatusOr<Process> Spawn(const std::vector<std::string>& argv,
                                       const std::vector<std::string>& env,
                                       const std::string& log_path);
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // SIGKILLs a process still running

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // The exit code (128 + signal when killed); DEADLINE_EXCEEDED on timeout.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  void KillAndReap();
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Runs to completion; its output goes to `log_path`. Returns the exit code.
absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, const std::string& log_path,
                               absl::Duration timeout = absl::Minutes(2));

// The children of `pid` started by its main thread (as a service's health
// process is).
std::vector<pid_t> ChildrenOf(pid_t pid);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// The file's content (empty when missing): for showing a child's log.
std::string ReadFile(const std::string& path);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_PROCESS_H_
