#include "history-service/ingest_plan.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace booking {

absl::string_view HeldReasonName(HeldReason reason) {
  switch (reason) {
    case HeldReason::kGap:
      return "gap";
    case HeldReason::kFork:
      return "fork";
    case HeldReason::kConflict:
      return "conflict";
  }
  return "gap";
}

namespace {

Decision Held(HeldReason reason, std::string detail) {
  return {Outcome::kHeld, reason, std::move(detail)};
}

class Planner {
 public:
  Planner(IngestState state, size_t events) : state_(std::move(state)) {
    plan_.decisions.resize(events);
    plan_.inserts.reserve(events);
  }

  void Take(size_t i, const RowContent& e) {
    // The same held event twice in one batch: the second is a resend.
    if (auto it = gap_index_.find(e.event_id); it != gap_index_.end()) {
      plan_.decisions[i] = gaps_content_[e.event_id] == e
                               ? Decision{Outcome::kDuplicate, HeldReason::kGap, ""}
                               : Held(HeldReason::kConflict,
                                      absl::StrCat("event ", e.event_id,
                                                   " came twice in a batch, with other content"));
      return;
    }
    if (auto it = state_.stored.find(e.event_id); it != state_.stored.end()) {
      plan_.decisions[i] = it->second == e
                               ? Decision{Outcome::kDuplicate, HeldReason::kGap, ""}
                               : Held(HeldReason::kConflict,
                                      absl::StrCat("event ", e.event_id, " is stored (booking ",
                                                   it->second.booking_id, " sequence ",
                                                   it->second.sequence, ") with other content"));
      return;
    }
    if (auto it = state_.held.find(e.event_id); it != state_.held.end() && it->second != e) {
      plan_.decisions[i] =
          Held(HeldReason::kConflict,
               absl::StrCat("event ", e.event_id, " is held back with other content (booking ",
                            it->second.booking_id, " sequence ", it->second.sequence, ")"));
      return;
    }
    const auto head = state_.heads.find(e.booking_id);
    const int64_t next = head == state_.heads.end() ? 1 : head->second.sequence + 1;
    if (e.sequence > next) {
      plan_.decisions[i] =
          Held(HeldReason::kGap, absl::StrCat("booking ", e.booking_id, " sequence ", e.sequence,
                                              ": sequence ", next, " has not arrived"));
      gaps_.push_back(e);
      gap_index_[e.event_id] = i;
      gaps_content_[e.event_id] = e;
      return;
    }
    if (e.sequence < next) {
      plan_.decisions[i] =
          Held(HeldReason::kFork, absl::StrCat("booking ", e.booking_id, " sequence ", e.sequence,
                                               " is already recorded by another event"));
      return;
    }
    if (head != state_.heads.end() && e.from_status.value_or("") != head->second.to_status) {
      plan_.decisions[i] =
          Held(HeldReason::kFork,
               absl::StrCat("booking ", e.booking_id, " sequence ", e.sequence, ": from_status \"",
                            e.from_status.value_or(""), "\" is not \"", head->second.to_status,
                            "\", the to_status of sequence ", head->second.sequence));
      return;
    }
    plan_.decisions[i] = Decision{};
    Store(e);
    Promote(e.booking_id);
  }

  IngestPlan Finish() {
    for (const auto& [booking, head] : state_.heads) plan_.head_sequence[booking] = head.sequence;
    return std::move(plan_);
  }

 private:
  void Store(const RowContent& e) {
    BookingHead& head = state_.heads[e.booking_id];
    const std::string previous = head.sequence == 0 ? FirstPrevious() : head.hash;
    std::string hash = RowHash(previous, e);
    head = {e.sequence, e.to_status, hash};
    plan_.inserts.push_back({e, previous, std::move(hash)});
    state_.stored[e.event_id] = e;
    state_.held.erase(e.event_id);
  }

  // Held gaps (earlier batches' or this one's) that now follow, in order.
  void Promote(const std::string& booking) {
    bool found = true;
    while (found) {
      found = false;
      const BookingHead& head = state_.heads[booking];
      for (std::vector<RowContent>* pool : {&state_.held_gaps, &gaps_}) {
        for (auto it = pool->begin(); it != pool->end(); ++it) {
          if (it->booking_id != booking || it->sequence != head.sequence + 1 ||
              it->from_status.value_or("") != head.to_status ||
              state_.stored.count(it->event_id) > 0) {
            continue;
          }
          const RowContent next = *it;
          pool->erase(it);
          if (auto b = gap_index_.find(next.event_id); b != gap_index_.end()) {
            plan_.decisions[b->second] = Decision{};
          } else {
            ++plan_.promoted;
          }
          Store(next);
          found = true;
          break;
        }
        if (found) break;
      }
    }
  }

  IngestState state_;
  IngestPlan plan_;
  std::vector<RowContent> gaps_;             // held as gaps by this batch
  std::map<std::string, size_t> gap_index_;  // their positions in the batch
  std::map<std::string, RowContent> gaps_content_;
};

}  // namespace

IngestPlan PlanIngest(const std::vector<RowContent>& events, IngestState state) {
  Planner planner(std::move(state), events.size());
  for (size_t i = 0; i < events.size(); ++i) planner.Take(i, events[i]);
  return planner.Finish();
}

}  // namespace booking
