#include "tests/support/label_writers.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_catalog.h"

namespace booking::testing {
namespace {

std::vector<std::string> OldSet() {
  return {"PENDING_PAYMENT",        "CONFIRMED",   "JOCKEY_ASSIGNED",
          "IN_TRANSIT_TO_WORKSHOP", "IN_WORKSHOP", "COMPLETED",
          "IN_TRANSIT_TO_CUSTOMER", "DELIVERED",   "CANCELLED"};
}

std::vector<std::string> NewSet() {
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) labels.emplace_back(Label(s));
  return labels;
}

// A write refused as the phase requires: the capture trigger's refusal
// (55000) or an old label that no longer exists after contract (22P02).
bool IsPhaseRefusal(const pqxx::sql_error& e) {
  return e.sqlstate() == "55000" || e.sqlstate() == "22P02";
}

}  // namespace

LabelWriters::LabelWriters(std::string url, int rows, int slots, std::string id_prefix)
    : url_(std::move(url)), rows_(rows), slots_(slots), id_prefix_(std::move(id_prefix)) {}

LabelWriters::~LabelWriters() {
  Resume();
  for (auto& w : writers_) w->stop = true;
  for (auto& w : writers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void LabelWriters::Start(WriterKind kind, int writers) {
  for (int i = 0; i < writers; ++i) {
    auto w = std::make_unique<Writer>();
    w->kind = kind;
    w->index = next_slot_++;
    Writer* raw = w.get();
    w->thread = std::thread([this, raw] { Run(*raw); });
    writers_.push_back(std::move(w));
  }
}

void LabelWriters::Stop(WriterKind kind) {
  for (auto& w : writers_) {
    if (w->kind == kind) w->stop = true;
  }
  cv_.notify_all();
  for (auto& w : writers_) {
    if (w->kind == kind && w->thread.joinable()) w->thread.join();
  }
}

void LabelWriters::Pause() {
  Pause(WriterKind::kOldCode);
  Pause(WriterKind::kNewCode);
}

void LabelWriters::Resume() {
  Resume(WriterKind::kOldCode);
  Resume(WriterKind::kNewCode);
}

void LabelWriters::Pause(WriterKind kind) {
  const int k = static_cast<int>(kind);
  std::unique_lock<std::mutex> lock(mu_);
  paused_[k] = true;
  int running = 0;
  for (auto& w : writers_) running += w->kind == kind && !w->stop ? 1 : 0;
  cv_.wait(lock, [&] { return waiting_[k] >= running; });
}

void LabelWriters::Resume(WriterKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_[static_cast<int>(kind)] = false;
  cv_.notify_all();
}

bool LabelWriters::paused(WriterKind kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  return paused_[static_cast<int>(kind)];
}

bool LabelWriters::WaitIfPaused(const Writer& w) {
  const int k = static_cast<int>(w.kind);
  std::unique_lock<std::mutex> lock(mu_);
  if (!paused_[k]) return !w.stop;
  ++waiting_[k];
  cv_.notify_all();
  cv_.wait(lock, [&] { return !paused_[k] || w.stop; });
  --waiting_[k];
  return !w.stop;
}

void LabelWriters::Record(const std::string& id, LastWrite write) {
  std::lock_guard<std::mutex> lock(mu_);
  last_[id] = std::move(write);
  ++committed_;
}

void LabelWriters::Failed(const std::string& what, bool refused) {
  if (refused) {
    ++refused_;
    return;
  }
  ++errors_;
  std::lock_guard<std::mutex> lock(mu_);
  if (first_error_.empty()) first_error_ = what;
}

std::string LabelWriters::first_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

std::map<std::string, LastWrite> LabelWriters::LastWrites() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

bool LabelWriters::WriteOld(pqxx::connection& conn, const std::string& id,
                            const std::string& label) {
  pqxx::work txn(conn);
  // Old code writes like Prisma: status and "updatedAt", nothing else.
  txn.exec_params(R"(UPDATE "Booking" SET status = $2::"BookingStatus", "updatedAt" = now()
                     WHERE id = $1)",
                  id, label);
  txn.commit();
  return true;
}

bool LabelWriters::WriteNew(pqxx::connection& conn, const std::string& id,
                            const std::string& status) {
  pqxx::work txn(conn);
  pqxx::result mode = txn.exec(R"(SELECT phase, "writeLabels" FROM "StatusMigration")");
  const std::string phase = mode[0][0].as<std::string>();
  if (phase == "none" || phase == "expanding") return false;  // not serving
  const bool old_labels = mode[0][1].as<std::string>() == "old";
  txn.exec_params(R"(SELECT 1 FROM "Booking" WHERE id = $1 FOR UPDATE)", id);
  const std::string stored = old_labels ? std::string(ReverseLabel(*ParseStatus(status))) : status;
  pqxx::result r = txn.exec_params(
      R"(UPDATE "Booking" SET status = $2::"BookingStatus", version = version + 1,
                              "updatedAt" = now() WHERE id = $1 RETURNING version)",
      id, stored);
  if (old_labels) {
    txn.exec_params(R"(INSERT INTO "BookingStatusExact" (id, status, version) VALUES ($1, $2, $3)
                       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
                                                      version = EXCLUDED.version)",
                    id, status, r[0][0].as<int64_t>());
  }
  txn.commit();
  return true;
}

void LabelWriters::Run(Writer& w) {
  std::mt19937 rng(static_cast<unsigned>(w.index * 7919 + 1));
  const std::vector<std::string> labels = w.kind == WriterKind::kOldCode ? OldSet() : NewSet();
  const int per_slot = rows_ / slots_;
  std::unique_ptr<pqxx::connection> conn;
  while (WaitIfPaused(w)) {
    const int i = 1 + w.index + slots_ * static_cast<int>(rng() % per_slot);
    const std::string id = absl::StrFormat("%s%08d", id_prefix_, i);
    const std::string& label = labels[rng() % labels.size()];
    try {
      if (conn == nullptr) conn = std::make_unique<pqxx::connection>(url_);
      const bool written =
          w.kind == WriterKind::kOldCode ? WriteOld(*conn, id, label) : WriteNew(*conn, id, label);
      if (written) Record(id, {w.kind, label});
    } catch (const pqxx::sql_error& e) {
      Failed(absl::StrCat(id, " <- ", label, ": ", e.what()), IsPhaseRefusal(e));
    } catch (const std::exception& e) {
      Failed(absl::StrCat(id, " <- ", label, ": ", e.what()), false);
      conn.reset();
    }
  }
}

std::map<std::string, std::pair<std::string, std::string>> StoredStatuses(const std::string& url) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (const auto& row : txn.exec(R"(SELECT b.id, b.status::text, e.status FROM "Booking" b
                                     LEFT JOIN "BookingStatusExact" e
                                       ON e.id = b.id AND e.version = b.version)")) {
    const std::string label = row[1].as<std::string>();
    const std::string exact = row[2].is_null() ? "" : row[2].as<std::string>();
    absl::StatusOr<Status> reads = ResolveStoredLabel(label, exact);
    out[row[0].as<std::string>()] = {label, reads.ok() ? std::string(Label(*reads)) : "?"};
  }
  return out;
}

}  // namespace booking::testing
