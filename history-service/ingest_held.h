// The bounded held-back table ("BookingStatusHeldBack", schema step 0010):
// events history cannot store yet (gaps) or ever (forks, conflicts), one row
// per place and reason (booking, sequence, gap|fork|conflict) whatever the
// event ids. A row keeps the first event seen there in full and the last one
// ("lastEventId", "lastDigest", "lastDetail", "lastContent"), how often one
// came ("timesSeen") and whether any content other than the first did
// ("sawOtherContent"). Once history stores the place the row is retired
// ("retiredAt", outcome 'stored' or 'superseded') in the same transaction,
// for that place only; a gap stored as itself with nothing else ever seen
// there is deleted (its history row is the record). Rows not retired
// ("held") are capped per booking and in total: a new place beyond a cap is
// not kept, and its event is reported as refused (the relay's handling of
// its disposition loses nothing: a gap is sent again later, a fork or a
// conflict is set aside in the booking store). Retired rows are bounded by
// history itself: at most three per stored entry.
#ifndef HISTORY_SERVICE_INGEST_HELD_H_
#define HISTORY_SERVICE_INGEST_HELD_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history-service/ingest_plan.h"
#include "history-service/row_content.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace booking {

struct HeldBackLimits {
  int64_t per_booking = 100;  // held rows of one booking
  int64_t max_rows = 100000;  // held rows in all
};

// From the flags' text (empty: the default); a message naming the flag when
// one is not a positive integer.
absl::StatusOr<HeldBackLimits> ParseHeldBackLimits(const std::string& per_booking,
                                                   const std::string& max_rows);

struct HeldRow {
  RowContent content;
  HeldReason reason;
  std::string detail;
  // History holds the event's place (by another event): kept retired.
  bool settled = false;
};

struct HoldResult {
  std::map<std::string, int> added;  // new rows, by reason name
  // Events of `held` not kept, over a cap: their index, and why.
  std::vector<std::pair<size_t, std::string>> refused;
};

// Keeps `held` (a place seen again: counted, its last event updated), held
// rows within `limits`. Takes the count row's lock when a new held row may
// be added: the total cap is exact under concurrent batches.
HoldResult HoldEvents(pqxx::transaction_base& txn, const std::vector<HeldRow>& held,
                      const HeldBackLimits& limits);

// The rows of the places `stored` now fills: deleted (its own gap, nothing
// else seen) or retired. Only places of `held_bookings` (those with held
// rows; nothing to do, no statement, for the others); uses the (booking,
// sequence) index: no scan.
void SettleHeld(pqxx::transaction_base& txn, const std::vector<PlannedRow>& stored,
                const std::set<std::string>& held_bookings);

struct HeldCounts {
  int64_t held = 0;
  int64_t retired = 0;
};
// The maintained counts ("BookingStatusHeldBackCount"): one row, no scan.
HeldCounts ReadHeldCounts(pqxx::transaction_base& txn);

// history_held_back_rows, history_held_back_retired_rows,
// history_held_back_max_rows and history_held_back_refused_total{reason}.
// Thread-safe (prometheus-cpp's metrics are).
class HeldBackMetrics {
 public:
  HeldBackMetrics(prometheus::Registry& registry, const HeldBackLimits& limits);
  void Set(const HeldCounts& counts);
  void Refused(const std::string& reason) { refused_.Add({{"reason", reason}}).Increment(); }

 private:
  prometheus::Gauge& held_;
  prometheus::Gauge& retired_;
  prometheus::Family<prometheus::Counter>& refused_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_INGEST_HELD_H_
