// Judging the inventory: for every object, how each phase carries it (and
// the definition it gets in each), or why it cannot be carried and what the
// operator can do. Pure: tested without a database.
#ifndef MIGRATOR_STATUS_ENUM_PLAN_H_
#define MIGRATOR_STATUS_ENUM_PLAN_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/status_enum/inventory.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {

struct PlanInputs {
  // Objects an operator says were made safe by hand (--assume-handled), by
  // the name the plan prints; only function bodies and functions on row
  // types can be.
  std::vector<std::string> assume_handled;
  // The phase the store is in ("none" before expand): objects named like
  // the migrator's own are the user's at phase none, and refused.
  std::string phase = "none";
};

// The decision, from the facts ReadInventory gathered alone: fills every
// object's per-phase text, labels and refusal (with what to do); sets
// carryable. Pure.
void JudgePlan(StatusPlan& plan, const PlanInputs& inputs);

// Part of JudgePlan (plan_exprs.cc): every stored expression judged
// (expr_check.h) and matched with the printed definition the phases rewrite.
void JudgeExpressions(StatusPlan& plan, const std::vector<std::string>& assume_handled);

// The texts of `o` naming labels that the phases rewrite: an index's part
// after USING, a policy's USING and WITH CHECK, else its definition.
std::vector<std::string> LabelTexts(const PlanObject& o);

// True when the object's definition names a status label (so a phase
// rewrites it).
bool NamesLabels(const PlanObject& o);

// The refused objects, one line each: "kind name: why. What to do: ...".
std::vector<std::string> Refusals(const StatusPlan& plan);

// How definitions of one table (or of views) are rewritten.
struct RewriteContext {
  std::string type;       // as printed, e.g. "BookingStatus" quoted
  std::string next_type;  // the type contract builds, spelled the same way
  // Printed names of columns of the type (for ::text comparisons).
  std::vector<std::string> columns;
  // Printed column -> its shadow, for definitions moved onto the shadows.
  std::vector<std::pair<std::string, std::string>> shadows;
};

// The context for `table`'s objects (all tables' columns for a view).
RewriteContext ContextFor(const StatusPlan& plan, const std::string& table,
                          const std::string& next_type);

// `sql` rewritten for `mode`; with `shadow`, also moved onto the shadow
// columns and the next type.
absl::StatusOr<std::string> Rewrite(const std::string& sql, const RewriteContext& ctx,
                                    DefinitionMode mode, bool shadow);

// An index definition split before " USING ": the part naming the index
// and its table, and the part naming columns and labels.
std::pair<std::string, std::string> SplitIndexDefinition(const std::string& definition);

// `plan` without the facts only judging needs (stored expression trees,
// the type's oids): what is printed as JSON and recorded by expand.
StatusPlan WithoutFacts(const StatusPlan& plan);

// The plan as text for an operator, or one JSON object; `phase` is where
// the change stands (at "contracted" there is nothing left to carry).
void PrintPlan(const StatusPlan& plan, bool json, const std::string& phase, std::ostream& out);

// One line: how many objects the plan carries and refuses, and where the
// whole plan is (`migrator plan`); `what` begins it (e.g. "expand").
void PrintPlanSummary(const StatusPlan& plan, const std::string& what, std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_PLAN_H_
