// What a batch does to history, decided from what the store holds for its
// bookings: pure logic, no SQL. A booking's story is consistent: an event is
// stored only as its booking's next sequence (1 for the first) with
// from_status equal to the previous entry's to_status. An event id stored
// before with the same content is a duplicate; otherwise the event is held
// back as a gap (sequence beyond the next one: stored once the missing events
// arrive), a fork (the place is taken, or from_status does not follow) or a
// conflict (the event id is known with other content).
#ifndef HISTORY_SERVICE_INGEST_PLAN_H_
#define HISTORY_SERVICE_INGEST_PLAN_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "history-service/row_content.h"

namespace booking {

enum class HeldReason { kGap, kFork, kConflict };
absl::string_view HeldReasonName(HeldReason reason);  // "gap", "fork", "conflict"

struct BookingHead {
  int64_t sequence = 0;
  std::string to_status;
  std::string hash;  // the row's chain hash
};

// What the store holds for a batch (read under the batch's booking locks).
struct IngestState {
  std::map<std::string, BookingHead> heads;  // by booking id
  std::map<std::string, RowContent> stored;  // history rows, by event id
  // Held back as a gap or fork, by event id (a conflict row is no original).
  std::map<std::string, RowContent> held;
  // Gaps held for the batch's bookings, oldest first: candidates to follow.
  std::vector<RowContent> held_gaps;
  // The batch's bookings with held rows of any reason (not retired): only
  // their stored places need settling (ingest_held.h SettleHeld).
  std::set<std::string> held_bookings;
};

enum class Outcome { kStored, kDuplicate, kHeld };

struct Decision {
  Outcome outcome = Outcome::kStored;
  HeldReason reason = HeldReason::kGap;  // when held
  std::string detail;                    // when held: why, naming booking and sequence
};

struct PlannedRow {
  RowContent content;
  std::string previous_hash;  // the booking's previous row's hash (FirstPrevious() if none)
  std::string hash;           // RowHash(previous_hash, content), the row's own
};

struct IngestPlan {
  std::vector<PlannedRow> inserts;  // in order; a booking's rows in sequence order
  std::vector<Decision> decisions;  // one per event given, in order
  int promoted = 0;                 // held gaps of earlier batches stored now
  // Each batch booking's last stored sequence after the plan (0: none): a
  // held event at or below it has lost its place.
  std::map<std::string, int64_t> head_sequence;
};

// `events` are the batch's storable events, in batch order. `hash` computes a
// row's hash from the previous one (RowHash; a stub in tests).
IngestPlan PlanIngest(const std::vector<RowContent>& events, IngestState state);

}  // namespace booking

#endif  // HISTORY_SERVICE_INGEST_PLAN_H_
