// Writers of "Booking".status with plain SQL, for the migrator's concurrency
// tests, each with a log of every write it committed:
// - old-code writers write old labels like the Prisma application before the
//   change (status and "updatedAt", nothing else; the capture trigger gives
//   their changes versions and history);
// - new-code writers write new statuses the way booking-service does: the
//   writers' label set read in the transaction, the row locked, the version
//   bumped, and in old-label mode the old label with the exact status kept.
// Each writer owns its own bookings, so the last write of every booking is
// known exactly.
#ifndef TESTS_SUPPORT_LABEL_WRITERS_H_
#define TESTS_SUPPORT_LABEL_WRITERS_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pqxx/pqxx"

namespace booking::testing {

enum class WriterKind { kOldCode, kNewCode };

struct LastWrite {
  WriterKind kind;
  std::string label;  // old-code: the old label written; new-code: the new status
};

class LabelWriters {
 public:
  // Booking ids "bk-%08d" (`id_prefix` and 8 digits) for i in 1..rows are
  // split among `slots` writers; each Start takes the next free slots.
  LabelWriters(std::string url, int rows, int slots, std::string id_prefix = "bk-");
  ~LabelWriters();

  void Start(WriterKind kind, int writers);
  // Stops the writers of `kind` after their write in progress.
  void Stop(WriterKind kind);
  // The writers (of `kind`) finish their write in progress and wait;
  // Resume lets them go on.
  void Pause();
  void Resume();
  void Pause(WriterKind kind);
  void Resume(WriterKind kind);
  bool paused(WriterKind kind) const;

  // The last committed write of every booking written so far.
  std::map<std::string, LastWrite> LastWrites() const;
  int64_t committed() const { return committed_.load(); }
  // Writes refused as the phase requires (an old label once contract has
  // started, a status while expand runs): not errors.
  int64_t refused() const { return refused_.load(); }
  // Anything else (deadlocks, lost connections, unexpected errors).
  int64_t errors() const { return errors_.load(); }
  std::string first_error() const;

 private:
  struct Writer {
    WriterKind kind;
    int index;
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  void Run(Writer& w);
  bool WriteOld(pqxx::connection& conn, const std::string& id, const std::string& label);
  bool WriteNew(pqxx::connection& conn, const std::string& id, const std::string& status);
  bool WaitIfPaused(const Writer& w);
  void Record(const std::string& id, LastWrite write);
  void Failed(const std::string& what, bool refused);

  const std::string url_;
  const int rows_;
  const int slots_;
  const std::string id_prefix_;
  int next_slot_ = 0;
  std::vector<std::unique_ptr<Writer>> writers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool paused_[2] = {false, false};  // by kind
  int waiting_[2] = {0, 0};
  std::map<std::string, LastWrite> last_;
  std::string first_error_;
  std::atomic<int64_t> committed_{0}, refused_{0}, errors_{0};
};

// The status a row reads as (its label, or the exact status kept beside an
// old label for the row's version), for every booking: id -> (label, reads as).
std::map<std::string, std::pair<std::string, std::string>> StoredStatuses(const std::string& url);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_LABEL_WRITERS_H_
