// The parts of SwapType: every definition rewritten for the target up front,
// and the swap transaction itself.
//
// Throwing: functions taking a Tx& throw libpqxx exceptions into the Db call
// they run inside (see db.h); the others never throw (those reaching the
// store return a status).
#ifndef MIGRATOR_STATUS_ENUM_SWAP_INTERNAL_H_
#define MIGRATOR_STATUS_ENUM_SWAP_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/status_enum/swap.h"

namespace booking::migrator {

struct Rewritten {
  const PlanObject* object;
  // A column's default; an index's part after USING or a check's body, on
  // the shadow columns; the final definition of a view, trigger, rule or
  // policy (its USING).
  std::string main;
  std::string check;  // a policy's WITH CHECK
};

struct SwapPlan {
  std::vector<Rewritten> columns, indexes, checks, views, triggers, policies, rules;
  std::vector<std::string> tables;  // locked by the swap, in a fixed order
  // What gives the new type the old one's owner, privileges and comment.
  std::vector<std::string> type_restore;
  // Statements touching procedural functions so that every session drops
  // the plans it cached on the old type (ALTER FUNCTION ... COST, unchanged).
  std::vector<std::string> recompile;
};

// The names of the trigger keeping column `o`'s shadow in sync and of its
// function (schema-qualified, in the store's schema), both quoted.
struct SyncNames {
  std::string trigger;
  std::string function;
};
SyncNames SyncNamesOf(Tx& tx, const PlanObject& o, const StoreInfo& store);

absl::StatusOr<SwapPlan> PlanSwap(PhaseContext& ctx, const StatusPlan& current,
                                  const StatusPlan& recorded, DefinitionMode mode);

void SwapInTransaction(Tx& tx, PhaseContext& ctx, const SwapPlan& plan, const SwapTarget& target);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_SWAP_INTERNAL_H_
