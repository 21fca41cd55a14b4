// Writers of the columns of the status type other than "Booking".status
// (LabelWriters writes that one), for the schema fuzzer: one thread per
// column changes it on the column's reserved rows, with labels of the set
// the phase accepts, and logs every write it committed.
#ifndef TESTS_SUPPORT_COLUMN_WRITERS_H_
#define TESTS_SUPPORT_COLUMN_WRITERS_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace booking::testing {

struct WrittenColumn {
  std::string table, column;     // SQL
  std::vector<std::string> ids;  // the reserved rows
};

class ColumnWriters {
 public:
  // Starts paused; nothing is written before the first Resume.
  ColumnWriters(std::string url, std::vector<WrittenColumn> columns);
  ~ColumnWriters();

  // Every writer finishes its write in progress and waits.
  void Pause();
  // The writers go on, writing `labels` from now on.
  void Resume(std::vector<std::string> labels);

  // The last committed write of every (column index, row id).
  std::map<std::pair<size_t, std::string>, std::string> LastWrites() const;
  int64_t committed() const { return committed_.load(); }
  // Writes the capture trigger refused (SQLSTATE 55000), as a phase may.
  int64_t refused() const { return refused_.load(); }
  int64_t errors() const { return errors_.load(); }
  std::string first_error() const;

 private:
  void Run(size_t column);
  bool WaitIfPaused();
  void Failed(const std::string& what, const std::string& sqlstate);

  const std::string url_;
  const std::vector<WrittenColumn> columns_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = true, stop_ = false;
  size_t waiting_ = 0;
  std::vector<std::string> labels_;
  std::map<std::pair<size_t, std::string>, std::string> last_;
  std::string first_error_;
  std::atomic<int64_t> committed_{0}, refused_{0}, errors_{0};
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_COLUMN_WRITERS_H_
