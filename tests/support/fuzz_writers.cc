#include "tests/support/fuzz_writers.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/support/wait.h"

namespace booking::testing {

StoreWriters::StoreWriters(const std::string& url, const GeneratedStore& store)
    : store_(store), status_(url, store.reserved_rows, 4, "wr-") {
  std::vector<WrittenColumn> others;
  for (size_t i = 1; i < store.columns.size(); ++i) {
    std::vector<std::string> ids;
    for (int r = 1; r <= store.reserved_rows; ++r) ids.push_back(absl::StrFormat("wr-%08d", r));
    others.push_back({store.columns[i].table, store.columns[i].column, ids});
  }
  if (!others.empty()) others_ = std::make_unique<ColumnWriters>(url, others);
}

void StoreWriters::Set(Writing w) {
  if (w == Writing::kNone) return;
  if (w == Writing::kOldOnly && started_[0]) status_.Stop(WriterKind::kNewCode);
  if (w != Writing::kOldOnly) Run(WriterKind::kNewCode, 0);
  if (w != Writing::kNew) Run(WriterKind::kOldCode, 1);
  const bool old_labels = w == Writing::kBothOldLabels || w == Writing::kOldOnly;
  if (others_ != nullptr) others_->Resume(old_labels ? OldLabels() : NewLabels());
}

void StoreWriters::Pause() {
  status_.Pause();
  if (others_ != nullptr) others_->Pause();
}

int64_t StoreWriters::committed() const {
  return status_.committed() + (others_ == nullptr ? 0 : others_->committed());
}

bool StoreWriters::Await(int64_t n) {
  const int64_t target = committed() + n;
  return WaitFor([&] { return committed() >= target; }, absl::Seconds(20), "committed writes",
                 absl::Milliseconds(5))
      .ok();
}

Cells StoreWriters::Expected() const {
  Cells cells;
  for (size_t i = 0; i < store_.columns.size(); ++i) {
    for (int r = 1; r <= store_.reserved_rows; ++r) {
      cells[{i, absl::StrFormat("wr-%08d", r)}] = store_.columns[i].initial[r - 1];
    }
  }
  for (const auto& [id, w] : status_.LastWrites()) cells[{0, id}] = w.label;
  if (others_ != nullptr) {
    for (const auto& [cell, label] : others_->LastWrites()) {
      cells[{cell.first + 1, cell.second}] = label;
    }
  }
  return cells;
}

std::string StoreWriters::NewErrors() {
  const int64_t errors = status_.errors() + (others_ == nullptr ? 0 : others_->errors());
  if (errors == errors_seen_) return "";
  errors_seen_ = errors;
  return absl::StrCat(errors, " writer errors so far; the first: ",
                      status_.errors() > 0 ? status_.first_error() : others_->first_error());
}

void StoreWriters::Run(WriterKind kind, int k) {
  if (!started_[k]) status_.Start(kind, 2);
  started_[k] = true;
  status_.Resume(kind);
}

}  // namespace booking::testing
