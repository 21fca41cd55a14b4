#include "migrator/status_enum/next_command.h"

#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/shell_quote.h"

namespace booking::migrator {
namespace {

template <typename T>
void AddIfChanged(std::vector<std::string>& words, const char* flag, const T& value,
                  const T& default_value) {
  if (value == default_value) return;
  if constexpr (std::is_same_v<T, absl::Duration>) {
    words.push_back(absl::StrCat(flag, "=", absl::FormatDuration(value)));
  } else {
    words.push_back(absl::StrCat(flag, "=", value));
  }
}

}  // namespace

std::vector<std::string> NextCommandWords(const std::vector<std::string>& command,
                                          const PhaseOptions& o) {
  const PhaseOptions d;  // the defaults (migrator/main.cc's flags have the same)
  const std::string verb = command.empty() ? "" : command.front();
  const bool relabels = verb == "backfill" || verb == "rollback";
  std::vector<std::string> words = {"migrator"};
  words.insert(words.end(), command.begin(), command.end());
  if (verb == "backfill") {
    AddIfChanged(words, "--in-service-rule", o.in_service_rule, d.in_service_rule);
  }
  if (relabels || verb == "expand") AddIfChanged(words, "--batch-size", o.batch_size, d.batch_size);
  if (relabels) {
    AddIfChanged(words, "--workers", o.workers, d.workers);
    AddIfChanged(words, "--throttle", o.throttle, d.throttle);
    AddIfChanged(words, "--max-passes", o.max_passes, d.max_passes);
    AddIfChanged(words, "--max-duration", o.max_duration, d.max_duration);
  }
  if (verb == "contract") {
    AddIfChanged(words, "--compatibility-window", o.compatibility_window, d.compatibility_window);
    if (o.force) words.push_back("--force");
  }
  AddIfChanged(words, "--lock-timeout", o.lock_timeout, d.lock_timeout);
  AddIfChanged(words, "--ddl-lock-timeout", o.ddl_lock_timeout, d.ddl_lock_timeout);
  AddIfChanged(words, "--wait-for-transactions", o.wait_for_transactions, d.wait_for_transactions);
  AddIfChanged(words, "--assume-handled", absl::StrJoin(o.assume_handled, ";"), std::string());
  return words;
}

std::string NextCommand(const std::vector<std::string>& command, const PhaseOptions& options) {
  return ShellCommand(NextCommandWords(command, options));
}

}  // namespace booking::migrator
