// Judging stored expressions (expr_check.h) and matching them with the
// printed definitions the migrator rewrites: a definition is carried only
// when every label literal its stored form holds is one the rewriting sees,
// and nothing else.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/expr_check.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/plan_rules.h"
#include "migrator/status_enum/translate.h"

namespace booking::migrator {
namespace {

constexpr char kRewriteRemedy[] =
    "compare the column (or column::text) with label literals by =, <>, IN or NOT IN only, or "
    "drop it before expand and create it again after contract";

ExprUse UseOf(const std::string& use) {
  if (use == "value") return ExprUse::kValue;
  if (use == "queries") return ExprUse::kQueries;
  if (use == "body") return ExprUse::kBody;
  return ExprUse::kCondition;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The labels the printed definitions name where the rewriting sees them.
std::vector<std::string> PrintedLabels(const PlanObject& o, const StatusPlan& plan) {
  const RewriteContext ctx = ContextFor(plan, o.kind() == "view" ? "" : o.table(), "");
  Translation how{DefinitionMode::kWiden, plan.type(), "", ctx.columns, {}};
  std::vector<std::string> out;
  for (const std::string& text : LabelTexts(o)) {
    for (const std::string& l : LabelOccurrences(text, how)) out.push_back(l);
  }
  return out;
}

void JudgeOne(PlanObject& o, const StatusPlan& plan, LabelTextColumns& label_text) {
  const bool old_new = o.kind() == "trigger" || o.kind() == "rule";
  std::vector<std::string> stored;
  for (const auto& e : o.exprs()) {
    ExprVerdict v = CheckStoredExpr(e.tree(), UseOf(e.use()), plan.types(), label_text, old_new);
    for (const std::string& r : v.refusals) AddRefusal(o, r, kRewriteRemedy);
    stored.insert(stored.end(), v.labels.begin(), v.labels.end());
    for (int column : v.label_text_outputs) label_text.insert({o.oid(), column});
  }
  for (const std::string& arg : o.trigger_args()) {
    if (IsKnownLabel(arg)) {
      AddRefusal(o,
                 absl::StrCat("it passes the label '", arg,
                              "' to its function as text, which is not rewritten"),
                 "pass no label to the function (let it compare the column itself), or drop "
                 "the trigger before expand and create it again after contract");
    }
  }
  if (!o.refusal().empty() || o.exprs().empty()) return;
  const std::vector<std::string> printed = PrintedLabels(o, plan);
  if (Sorted(printed) != Sorted(stored)) {
    AddRefusal(
        o,
        absl::StrCat("its printed definition names the labels [", absl::StrJoin(printed, ", "),
                     "] where its stored form holds [", absl::StrJoin(stored, ", "),
                     "]: the migrator cannot rewrite it faithfully"),
        kRewriteRemedy);
  }
}

}  // namespace

void JudgeExpressions(StatusPlan& plan, const std::vector<std::string>& assume_handled) {
  LabelTextColumns label_text;
  // Views over views come later (ReadViews orders them by depth), so a view
  // reading a label passed out as text by another is judged after it.
  for (PlanObject& o : *plan.mutable_objects()) {
    if (o.kind() == "sql function") {
      if (std::find(assume_handled.begin(), assume_handled.end(), o.name()) !=
          assume_handled.end()) {
        continue;
      }
      for (const auto& e : o.exprs()) {
        ExprVerdict v = CheckStoredExpr(e.tree(), ExprUse::kBody, plan.types(), label_text, false);
        if (!v.refusals.empty()) o.set_kind("function body");
        for (const std::string& r : v.refusals) {
          AddRefusal(o, r,
                     "make it accept the old and the new labels, then run again with "
                     "--assume-handled naming it; or drop it before expand and create it again "
                     "after contract");
        }
      }
      continue;
    }
    if (IsCarriedKind(o.kind())) JudgeOne(o, plan, label_text);
  }
}

}  // namespace booking::migrator
