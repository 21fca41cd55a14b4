#include "tests/support/column_writers.h"

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// pqxx 6 leaves sqlstate() empty for the errors it has classes for; a
// verbose message starts "ERROR:  <SQLSTATE>: ".
std::string SqlState(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) return e.sqlstate();
  static const std::regex kCode(R"(^[A-Z]+:  ([0-9A-Z]{5}): )");
  std::cmatch m;
  return std::regex_search(e.what(), m, kCode) ? m[1].str() : "";
}

}  // namespace

ColumnWriters::ColumnWriters(std::string url, std::vector<WrittenColumn> columns)
    : url_(std::move(url)), columns_(std::move(columns)) {
  for (size_t i = 0; i < columns_.size(); ++i) threads_.emplace_back([this, i] { Run(i); });
}

ColumnWriters::~ColumnWriters() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ColumnWriters::Pause() {
  std::unique_lock<std::mutex> lock(mu_);
  paused_ = true;
  cv_.wait(lock, [&] { return waiting_ >= threads_.size(); });
}

void ColumnWriters::Resume(std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  labels_ = std::move(labels);
  paused_ = false;
  cv_.notify_all();
}

bool ColumnWriters::WaitIfPaused() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!paused_ || stop_) return !stop_;
  ++waiting_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !paused_ || stop_; });
  --waiting_;
  return !stop_;
}

std::map<std::pair<size_t, std::string>, std::string> ColumnWriters::LastWrites() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

std::string ColumnWriters::first_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

void ColumnWriters::Failed(const std::string& what, const std::string& sqlstate) {
  if (sqlstate == "55000") {
    ++refused_;
    return;
  }
  ++errors_;
  std::lock_guard<std::mutex> lock(mu_);
  if (first_error_.empty()) first_error_ = what;
}

void ColumnWriters::Run(size_t column) {
  const WrittenColumn& c = columns_[column];
  const std::string update =
      absl::StrCat("UPDATE ", c.table, " SET ", c.column, " = $1 WHERE id = $2");
  uint64_t state = 0x2545F4914F6CDD1Dull * (column + 1);
  std::unique_ptr<pqxx::connection> conn;
  while (WaitIfPaused()) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string label;
    {
      std::lock_guard<std::mutex> lock(mu_);
      label = labels_[(state >> 33) % labels_.size()];
    }
    const std::string& id = c.ids[(state >> 17) % c.ids.size()];
    const std::string what = absl::StrCat(c.table, ".", c.column, " of ", id, " <- ", label, ": ");
    try {
      if (conn == nullptr) {
        conn = std::make_unique<pqxx::connection>(url_);
        conn->set_verbosity(pqxx::connection_base::verbose);
      }
      pqxx::work w(*conn);
      w.exec_params(update, label, id);
      w.commit();
      std::lock_guard<std::mutex> lock(mu_);
      last_[{column, id}] = label;
      ++committed_;
    } catch (const pqxx::sql_error& e) {
      Failed(what + e.what(), SqlState(e));
    } catch (const std::exception& e) {
      Failed(what + e.what(), "");
      conn.reset();
    }
    Pace(absl::Milliseconds(2));
  }
}

}  // namespace booking::testing
