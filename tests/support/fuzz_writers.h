// The schema fuzzer's writers (fuzz_run.cc): LabelWriters' old-code and
// new-code writers on "Booking".status and ColumnWriters on every other
// column of the type, all on the generated store's reserved rows, switched
// step by step as the status change allows.
#ifndef TESTS_SUPPORT_FUZZ_WRITERS_H_
#define TESTS_SUPPORT_FUZZ_WRITERS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/column_writers.h"
#include "tests/support/fuzz_checks.h"
#include "tests/support/label_writers.h"
#include "tests/support/store_fuzz.h"

namespace booking::testing {

// Who writes during a step: booking-service (new code) and the old
// application (old code) on "Booking".status, and which label set on the
// other columns of the type.
enum class Writing { kNone, kNew, kNewAndOld, kBothOldLabels, kOldOnly };

class StoreWriters {
 public:
  // Nothing is written before the first Set.
  StoreWriters(const std::string& url, const GeneratedStore& store);

  void Set(Writing w);  // resumes (or starts, or stops) what the step runs
  void Pause();         // every write in progress finishes; nothing more is written
  int64_t committed() const;
  // Waits for `n` more committed writes (at most 20 s).
  bool Await(int64_t n);
  // Every reserved cell's last committed write, else its initial label.
  Cells Expected() const;
  // Errors no phase documents, since the last call ("" when none).
  std::string NewErrors();

 private:
  void Run(WriterKind kind, int k);

  const GeneratedStore& store_;
  LabelWriters status_;
  std::unique_ptr<ColumnWriters> others_;
  bool started_[2] = {false, false};  // new code, old code
  int64_t errors_seen_ = 0;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_FUZZ_WRITERS_H_
