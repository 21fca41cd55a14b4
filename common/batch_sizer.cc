#include "common/batch_sizer.h"

#include <algorithm>
#include <cmath>

namespace booking {

BatchSizer::BatchSizer(int max_rows, absl::Duration budget, int min_rows)
    : max_rows_(std::max(1, max_rows)),
      min_rows_(std::clamp(min_rows, 1, std::max(1, max_rows))),
      budget_(budget),
      next_(budget > absl::ZeroDuration() ? min_rows_ : max_rows_) {}

void BatchSizer::Done(int rows, absl::Duration took) {
  if (budget_ <= absl::ZeroDuration() || rows <= 0) return;
  if (took <= budget_ && rows < next_) return;  // a short, quick batch: nothing measured
  const double fit = static_cast<double>(rows) * absl::FDivDuration(budget_, took);
  const double grown = std::min(fit, 2.0 * static_cast<double>(rows));
  next_ = static_cast<int>(std::clamp(std::floor(grown), static_cast<double>(min_rows_),
                                      static_cast<double>(max_rows_)));
}

}  // namespace booking
