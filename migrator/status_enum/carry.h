// Carrying objects that name labels through the phases in place, without a
// type swap: at expand (and again at rollback of contract) every view,
// index, check, trigger, policy and rule naming an old label is rewritten to
// accept the old and the new labels, so it answers the same whichever label
// set a row holds. Each step finds what an interrupted run left and goes on
// from there.
//
// Throwing: functions taking a Tx& throw libpqxx exceptions into the Db call
// they run inside (see db.h); the others never throw (those reaching the
// store return a status).
#ifndef MIGRATOR_STATUS_ENUM_CARRY_H_
#define MIGRATOR_STATUS_ENUM_CARRY_H_

#include "absl/status/status.h"
#include "migrator/status_enum/context.h"

namespace booking::migrator {

// Widens every object of `current` (the catalog now) that names labels, from
// its definition in `recorded` (the plan expand recorded) when it has one.
absl::Status WidenInPlace(PhaseContext& ctx, const StatusPlan& current, const StatusPlan& recorded);

// Finishes a widening interrupted between dropping an original index or
// check and giving its widened copy the original's name.
absl::Status FinishWideRenames(PhaseContext& ctx, const StatusPlan& recorded);

// Takes away what an interrupted widening left beside the originals (index
// and check copies named "...__wide").
absl::Status DropWideLeftovers(PhaseContext& ctx, const StatusPlan& recorded);

// The object of `plan` with `o`'s kind and name, or nullptr.
const PlanObject* Find(const StatusPlan& plan, const PlanObject& o);

// The definition a swap or a widening starts from: the recorded original
// when the object is still as the migrator left it, else what it is now.
const PlanObject& Source(const PlanObject& current, const StatusPlan& recorded);

// Sets a column's default to `expr` (or drops it when empty).
void SetDefault(Tx& tx, const PlanObject& column, const std::string& expr);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_CARRY_H_
