#include "migrator/status_enum/plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "migrator/status_enum/plan_rules.h"
#include "migrator/status_enum/sql_tokens.h"
#include "migrator/status_enum/translate.h"

namespace booking::migrator {
namespace {

std::string SetText(const std::vector<std::string>& labels, DefinitionMode mode) {
  std::vector<std::string> out;
  for (const std::string& l : labels) {
    for (const std::string& m : ComparisonLabels(l, mode)) {
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
  }
  return absl::StrJoin(out, ", ");
}

// The column's place: contract adds its replacement, which PostgreSQL
// appends (moving it would rewrite the table under an exclusive lock).
std::string PlaceNote(const PlanObject& o) {
  if (o.position() == 0 || o.position() == o.columns()) return "";
  return absl::StrCat(" It moves from column ", o.position(), " to the last column (", o.columns(),
                      ") of ", o.table(),
                      ": INSERT without a column list and readers of SELECT * by position see "
                      "the new order.");
}

void DescribeColumn(PlanObject& o, const StatusPlan& plan) {
  const bool bookings = o.column() == "status" && o.table() == plan.table();
  o.set_at_expand(bookings ? "backfill relabels every row in short locked batches; a booking whose "
                             "status changes (the in-service rule) gets its history entry"
                           : "backfill relabels its rows in short batches");
  if (!o.definition().empty() && !o.labels().empty()) {
    absl::StrAppend(o.mutable_at_expand(), "; its default ", o.definition(), " names ",
                    absl::StrJoin(o.labels(), ", "), " and gives the new label from backfill on");
  }
  o.set_at_contract(
      absl::StrCat("a column of the new type (kept in sync by a trigger, filled in batches",
                   o.leaves_size() > 1
                       ? absl::StrCat(" partition by partition, ", o.leaves_size(), " partitions")
                       : std::string(),
                   ") replaces it in one short swap; the table is not rewritten"));
  o.set_at_rollback(
      "rollback of backfill writes the old labels back (keeping each row's exact new label); "
      "rollback of expand swaps back to the original type the same way");
}

void DescribeFunction(PlanObject& o) {
  o.set_at_expand("unchanged");
  o.set_at_contract(absl::StrCat(
      "touched in the swap (", o.recompile(),
      ", unchanged) so every session recompiles it instead of using plans cached on the old type"));
  o.set_at_rollback("rollback of expand touches it the same way");
}

void DescribeDefinition(PlanObject& o) {
  const bool names = o.labels_size() > 0;
  const std::vector<std::string> labels(o.labels().begin(), o.labels().end());
  const std::string sets =
      names ? absl::StrCat(" (names ", absl::StrJoin(labels, ", "), ": accepts ",
                           SetText(labels, DefinitionMode::kWiden), " until contract, then ",
                           SetText(labels, DefinitionMode::kNarrow), ")")
            : std::string();
  const std::string& k = o.kind();
  if (k == "index") {
    o.set_at_expand(names ? "rebuilt concurrently, accepting old and new labels" : "unchanged");
    o.set_at_contract("rebuilt concurrently on the new column, renamed in the swap");
  } else if (k == "check") {
    o.set_at_expand(names ? "replaced by one accepting old and new labels (added NOT VALID, then "
                            "validated)"
                          : "unchanged");
    o.set_at_contract("rebuilt on the new column and validated before the swap");
  } else if (k == "view") {
    o.set_at_expand(names ? "replaced (CREATE OR REPLACE VIEW), accepting old and new labels"
                          : "unchanged");
    o.set_at_contract("recreated in the swap with its owner, grants, options and comments");
  } else {  // trigger, policy, rule
    o.set_at_expand(names ? absl::StrCat("replaced, accepting old and new labels") : "unchanged");
    o.set_at_contract("dropped and recreated in the swap (it names the column)");
  }
  absl::StrAppend(o.mutable_at_expand(), sets);
  o.set_at_rollback(
      "rollback of contract widens it again; rollback of expand restores it as it was");
}

// Every definition must be rewritable for every phase it will go through,
// or the object is refused now, before anything changes.
void CheckRewritable(PlanObject& o, const StatusPlan& plan) {
  const RewriteContext ctx = ContextFor(plan, o.kind() == "view" ? "" : o.table(), "next");
  const bool shadow = o.kind() == "index" || o.kind() == "check";
  for (const std::string& text : LabelTexts(o)) {
    for (DefinitionMode mode :
         {DefinitionMode::kWiden, DefinitionMode::kNarrow, DefinitionMode::kToOld}) {
      absl::StatusOr<std::string> r = Rewrite(text, ctx, mode, shadow);
      if (r.ok()) continue;
      AddRefusal(o,
                 absl::StrCat("its definition cannot be rewritten for every phase: ",
                              r.status().message()),
                 "rewrite the definition as the message says before expand");
      return;
    }
  }
}

}  // namespace

RewriteContext ContextFor(const StatusPlan& plan, const std::string& table,
                          const std::string& next_type) {
  RewriteContext ctx{plan.type(), next_type, {}, {}};
  for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
    // An object of one partition names its partitioned table's column.
    const bool own = c->table() == table ||
                     std::find(c->leaves().begin(), c->leaves().end(), table) != c->leaves().end();
    if (!table.empty() && !own) continue;
    if (std::find(ctx.columns.begin(), ctx.columns.end(), c->printed_column()) ==
        ctx.columns.end()) {
      ctx.columns.push_back(c->printed_column());
    }
    ctx.shadows.emplace_back(c->printed_column(), c->shadow_column());
  }
  return ctx;
}

absl::StatusOr<std::string> Rewrite(const std::string& sql, const RewriteContext& ctx,
                                    DefinitionMode mode, bool shadow) {
  Translation how{mode, ctx.type, shadow ? ctx.next_type : "", ctx.columns, {}};
  if (shadow) how.column_renames = ctx.shadows;
  return TranslateDefinition(sql, how);
}

std::pair<std::string, std::string> SplitIndexDefinition(const std::string& definition) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(definition);
  if (tokens.ok()) {
    for (const Token& t : *tokens) {
      if (t.IsWord("USING")) return {definition.substr(0, t.begin), definition.substr(t.begin)};
    }
  }
  return {definition, ""};
}

std::vector<std::string> TypeColumnsOf(const StatusPlan& plan, const std::string& table) {
  return ContextFor(plan, table, "").columns;
}

bool NamesLabels(const PlanObject& o) { return o.labels_size() > 0; }

std::vector<std::string> LabelTexts(const PlanObject& o) {
  std::vector<std::string> texts;
  if (o.kind() == "index") {
    texts.push_back(SplitIndexDefinition(o.definition()).second);
  } else if (!o.definition().empty() && o.kind() != "plpgsql function") {
    texts.push_back(o.definition());
  }
  if (!o.policy_check().empty()) texts.push_back(o.policy_check());
  return texts;
}

namespace {

// Objects named like the migrator's own: its own mid-change, the user's
// (refused) before anything began.
void JudgeMigratorNames(StatusPlan& plan, const std::string& phase) {
  google::protobuf::RepeatedPtrField<PlanObject> kept;
  for (PlanObject& o : *plan.mutable_objects()) {
    if (o.kind() != "migrator's name") {
      *kept.Add() = std::move(o);
      continue;
    }
    if (phase != "none") continue;
    AddRefusal(o,
               absl::StrCat(o.detail(),
                            " depending on the type is named like the objects the "
                            "migrator makes (__next, __wide, __next_sync), which it "
                            "would take for its own"),
               "rename it before expand");
    *kept.Add() = std::move(o);
  }
  plan.mutable_objects()->Swap(&kept);
}

void JudgeLabelsNamed(PlanObject& o, StatusPlan& plan) {
  const RewriteContext ctx = ContextFor(plan, o.kind() == "view" ? "" : o.table(), "");
  o.clear_labels();
  for (const std::string& text : LabelTexts(o)) {
    Translation how{DefinitionMode::kWiden, plan.type(), "", ctx.columns, {}};
    for (const std::string& l : LabelsNamed(text, how)) o.add_labels(l);
    for (const std::string& l : UnrecognisedLabelText(text, how)) {
      plan.add_notes(absl::StrCat(o.kind(), " ", o.name(), " names '", l,
                                  "' as text outside a comparison with the column (as its own "
                                  "text, not a status: left as it is)"));
    }
  }
}

constexpr char kNoPhase[] = "none";

// Before expand the type has none of the new labels: a definition naming
// one (as text) matches nothing now and would match once rows hold it.
void RefuseNewLabelsBeforeExpand(PlanObject& o) {
  for (const std::string& l : o.labels()) {
    if (!IsNewOnly(l)) continue;
    AddRefusal(o,
               absl::StrCat("it names '", l,
                            "', a label of the new set, before the type has it: it matches no "
                            "row now and would match rows once the new labels are written, so "
                            "its answer would change"),
               "compare with the old label instead (the phases rewrite it), or drop it before "
               "expand and create it again after contract");
  }
}

void DropQuietFunctions(StatusPlan& plan) {
  google::protobuf::RepeatedPtrField<PlanObject> kept;
  for (PlanObject& o : *plan.mutable_objects()) {
    if (o.kind() == "sql function" && o.refusal().empty()) continue;  // names no label
    *kept.Add() = std::move(o);
  }
  plan.mutable_objects()->Swap(&kept);
}

}  // namespace

void JudgePlan(StatusPlan& plan, const PlanInputs& inputs) {
  JudgeMigratorNames(plan, inputs.phase);
  JudgeKinds(plan, inputs.assume_handled);
  JudgeExpressions(plan, inputs.assume_handled);
  DropQuietFunctions(plan);
  for (PlanObject& o : *plan.mutable_objects()) {
    if (!IsCarriedKind(o.kind())) continue;
    JudgeLabelsNamed(o, plan);
    if (inputs.phase == kNoPhase) RefuseNewLabelsBeforeExpand(o);
    if (o.kind() == "column") {
      DescribeColumn(o, plan);
      if (const std::string note = PlaceNote(o); !note.empty()) {
        plan.add_notes(absl::StrCat("column ", o.name(), ":", note));
      }
    } else if (o.kind() == "plpgsql function") {
      DescribeFunction(o);
    } else {
      DescribeDefinition(o);
    }
    CheckRewritable(o, plan);  // also when refused: every reason is said
  }
  JudgePrivileges(plan);
  JudgeNames(plan);
  bool carryable = true;
  for (const PlanObject& o : plan.objects()) carryable = carryable && o.refusal().empty();
  plan.set_carryable(carryable);
}

std::vector<std::string> Refusals(const StatusPlan& plan) {
  std::vector<std::string> out;
  for (const PlanObject& o : plan.objects()) {
    if (o.refusal().empty()) continue;
    out.push_back(
        absl::StrCat(o.kind(), " ", o.name(), ": ", o.refusal(), ". What to do: ", o.remedy()));
  }
  return out;
}

StatusPlan WithoutFacts(const StatusPlan& plan) {
  StatusPlan out = plan;
  out.clear_types();
  for (PlanObject& o : *out.mutable_objects()) {
    o.clear_exprs();
    // Facts that change when an object is recreated (or a column moved):
    // the recorded plan of the same store would seem to change.
    o.clear_oid();
    o.clear_position();
    o.clear_columns();
  }
  return out;
}

void PrintPlan(const StatusPlan& plan, bool json, const std::string& phase, std::ostream& out) {
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = false;
    (void)google::protobuf::util::MessageToJsonString(WithoutFacts(plan), &text, options);
    out << text << "\n";
    return;
  }
  // Contracted: no phase is left to carry anything; only what would stop a
  // rollback of contract is worth a line.
  const bool complete = phase == "contracted";
  out << "plan: type " << plan.type() << " in schema " << plan.schema() << " has labels "
      << absl::StrJoin(plan.labels(), ", ") << " (phase " << phase << ")\n";
  for (const PlanObject& o : plan.objects()) {
    if (!o.refusal().empty()) {
      out << "  REFUSED " << o.kind() << " " << o.name() << ": " << o.refusal()
          << "\n    what to do: " << o.remedy() << "\n";
      continue;
    }
    if (complete) continue;
    out << "  " << o.kind() << " " << o.name() << "\n";
    out << "    expand/backfill: " << o.at_expand() << "\n";
    if (!o.at_contract().empty()) out << "    contract: " << o.at_contract() << "\n";
    if (!o.at_rollback().empty()) out << "    rollback: " << o.at_rollback() << "\n";
  }
  if (!complete) {
    for (const std::string& n : plan.notes()) out << "  NOTE: " << n << "\n";
  }
  if (complete) {
    out << "plan: nothing to do: the change is complete (the type holds only the new labels)"
        << (plan.carryable() ? "" : "; a rollback of contract would refuse: see each REFUSED line")
        << "\n";
  } else if (!plan.carryable()) {
    out << "plan: REFUSED: the objects above cannot be carried; nothing was changed\n";
  } else if (phase == "none") {
    out << "plan: every object can be carried through every phase\n";
  } else {
    out << "plan: every object can be carried through the phases still to run\n";
  }
}

void PrintPlanSummary(const StatusPlan& plan, const std::string& what, std::ostream& out) {
  int refused = 0;
  for (const PlanObject& o : plan.objects()) refused += o.refusal().empty() ? 0 : 1;
  out << what << ": plan: " << plan.objects_size() << " objects depend on " << plan.type()
      << " or name its labels: " << plan.objects_size() - refused << " carried, " << refused
      << " refused";
  if (plan.notes_size() > 0) out << ", " << plan.notes_size() << " notes";
  out << " (`migrator plan` prints each object and how every phase carries it)\n";
}

}  // namespace booking::migrator
