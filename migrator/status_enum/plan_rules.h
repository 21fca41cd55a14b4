// The kinds of objects the migrator cannot carry through the change, each
// with why and what the operator can do; the rules judging who may change
// what, and the names the migrator creates. Pure: part of JudgePlan.
#ifndef MIGRATOR_STATUS_ENUM_PLAN_RULES_H_
#define MIGRATOR_STATUS_ENUM_PLAN_RULES_H_

#include <string>
#include <tuple>
#include <vector>

#include "migrator/status_enum/inventory.h"

namespace booking::migrator {

// True for the kinds carried by a tested strategy (column, index, view,
// check, trigger, policy, rule, plpgsql function).
bool IsCarriedKind(const std::string& kind);

// Refuses every object of a kind that cannot be carried (with its reason
// and remedy), unless it is one an operator may take over by hand and
// `assume_handled` names it.
void JudgeKinds(StatusPlan& plan, const std::vector<std::string>& assume_handled);

// Refuses what the migrator's role could not change (or read): the type,
// the schemas it creates objects in, every object it rewrites or recreates.
void JudgePrivileges(StatusPlan& plan);

// Refuses the plan when two names the migrator would create coincide (in
// one table, or one schema), which PostgreSQL's 63-byte limit could cause.
void JudgeNames(StatusPlan& plan);

// A name the migrator creates for the change: what it names ("relation"
// (a type or a relation), "column", "trigger", "constraint", "function"),
// where it must be unique (a schema's name, or a table's oid), and which
// phase creates it.
struct CreatedName {
  std::string what;
  std::string scope;
  std::string name;
  std::string phase;  // "expand" or "contract"
  bool operator<(const CreatedName& o) const {
    return std::tie(what, scope, name) < std::tie(o.what, o.scope, o.name);
  }
};
std::vector<CreatedName> CreatedNames(const StatusPlan& plan);

// Adds `reason` to `o`'s refusal (and `remedy` to its remedy), keeping any
// it had.
void AddRefusal(PlanObject& o, const std::string& reason, const std::string& remedy);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_PLAN_RULES_H_
