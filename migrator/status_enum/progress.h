// Progress of a long phase step: a bar with rate and ETA on a terminal, or a
// line every few seconds (a Job's log).
#ifndef MIGRATOR_STATUS_ENUM_PROGRESS_H_
#define MIGRATOR_STATUS_ENUM_PROGRESS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace booking::migrator {

// Not thread safe: owned by one thread.
class Progress {
 public:
  Progress(std::ostream& out, std::string what, int64_t total, bool bar, std::string unit = "rows");
  void Add(int64_t n);
  void Finish();

 private:
  void Print(bool final);

  std::ostream& out_;
  const std::string what_;
  const std::string unit_;
  const int64_t total_;
  const bool bar_;
  const absl::Time start_;
  absl::Time last_line_ = absl::InfinitePast();
  int64_t done_ = 0;
};

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_PROGRESS_H_
