#include "history-verify/store_verify.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "history-service/checkpoint.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr int kFetchRows = 5000;
constexpr size_t kMaxFindings = 100;

class Scan {
 public:
  Scan(StoreReport& report, std::map<std::string, Head> heads)
      : report_(report), heads_(std::move(heads)) {}

  void Add(StoredRow row) {
    if (!rows_.empty() && rows_.front().content.booking_id != row.content.booking_id) Flush();
    rows_.push_back(std::move(row));
  }

  // The booking's rows are all in: check them.
  void Flush() {
    if (rows_.empty()) return;
    ++report_.bookings;
    report_.rows += static_cast<int64_t>(rows_.size());
    const std::string booking = rows_.front().content.booking_id;
    if (std::optional<Finding> f = CheckChain(rows_)) Report(*f);
    if (auto it = heads_.find(booking); it != heads_.end()) {
      for (const StoredRow& r : rows_) signed_rows_ += r.content.sequence <= it->second.sequence;
      if (std::optional<Finding> f = CheckHead(rows_, it->second)) Report(*f);
      heads_.erase(it);
    }
    rows_.clear();
  }

  // Signed heads of bookings that have no row left.
  void Finish(const std::optional<std::string>& only) {
    Flush();
    for (const auto& [booking, head] : heads_) {
      if (!only || *only == booking) {
        if (std::optional<Finding> f = CheckHead({}, head)) Report(*f);
      }
    }
  }

  int64_t signed_rows() const { return signed_rows_; }
  void Report(Finding f) {
    if (report_.findings.size() < kMaxFindings) report_.findings.push_back(std::move(f));
  }

 private:
  StoreReport& report_;
  std::map<std::string, Head> heads_;
  std::vector<StoredRow> rows_;
  int64_t signed_rows_ = 0;
};

}  // namespace

namespace {

// The heads `trusted` signed, as the store keeps them; a finding when the
// store's copy does not match the signed root (then no head is checked).
std::optional<Finding> SignedHeads(pqxx::transaction_base& txn,
                                   const history::v1::Checkpoint& trusted,
                                   std::map<std::string, Head>& heads) {
  std::optional<history::v1::Checkpoint> stored =
      CheckpointSignedAt(txn, trusted.signed_at_micros());
  if (!stored) {
    return Finding{"", 0,
                   "the trusted checkpoint is not in the store's checkpoint "
                   "table: the table was altered; rows checked by chain only"};
  }
  std::vector<Head> list = CheckpointHeads(txn, stored->id());
  if (MerkleRoot(Leaves(list)) != trusted.root() ||
      static_cast<int64_t>(list.size()) != trusted.booking_count()) {
    return Finding{"", 0,
                   "the store's head list of the trusted checkpoint does "
                   "not match its signed root: the checkpoint tables were "
                   "altered; rows checked by chain only"};
  }
  for (Head& h : list) heads.emplace(h.booking_id, std::move(h));
  return std::nullopt;
}

}  // namespace

StoreReport VerifyStore(pqxx::transaction_base& txn, const history::v1::Checkpoint* trusted,
                        const std::optional<std::string>& booking) {
  StoreReport report;
  std::map<std::string, Head> heads;
  std::optional<Finding> checkpoint_problem;
  if (trusted != nullptr) checkpoint_problem = SignedHeads(txn, *trusted, heads);
  Scan scan(report, std::move(heads));
  if (checkpoint_problem) scan.Report(*checkpoint_problem);
  txn.exec_params(absl::StrCat("DECLARE history_rows NO SCROLL CURSOR FOR SELECT ",
                               StoredRowColumns(), R"( FROM "BookingStatusHistory"
                                 WHERE $1 = '' OR "bookingId" = $1
                                 ORDER BY "bookingId", sequence)"),
                  booking.value_or(""));
  while (true) {
    pqxx::result r = txn.exec(absl::StrCat("FETCH ", kFetchRows, " FROM history_rows"));
    for (const pqxx::row& row : r) scan.Add(ReadStoredRow(row));
    if (r.size() < static_cast<size_t>(kFetchRows)) break;
  }
  txn.exec("CLOSE history_rows");
  scan.Finish(booking);
  if (trusted != nullptr && !booking && !checkpoint_problem && report.findings.empty() &&
      scan.signed_rows() != trusted->row_count()) {
    scan.Report({"", 0,
                 absl::StrCat("the store holds ", scan.signed_rows(),
                              " rows up to the signed heads; the checkpoint signed ",
                              trusted->row_count())});
  }
  return report;
}

}  // namespace booking
