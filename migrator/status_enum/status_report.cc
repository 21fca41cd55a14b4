// migrator plan and the status-change part of migrator status.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/phases.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/relabel.h"

namespace booking::migrator {
namespace {

std::string Next(const MigrationState& s) {
  if (s.phase == kPhaseNone) return "expand";
  if (s.phase == kPhaseExpanding) return "expand (or rollback expand): it was interrupted";
  if (s.phase == kPhaseExpanded)
    return s.write_labels == "old" ? "backfill, or rollback expand" : "backfill";
  if (s.phase == kPhaseBackfilling) {
    return "backfill (or rollback backfill): it was interrupted";
  }
  if (s.phase == kPhaseBackfilled) {
    return s.write_labels == "old" ? "rollback backfill (it was interrupted), or backfill"
                                   : "verify";
  }
  if (s.phase == kPhaseVerified) return "contract (after the compatibility window)";
  if (s.phase == kPhaseContracting) return "contract (or rollback contract): it was interrupted";
  return "nothing: the change is complete";
}

// The labels writers write now, and why when it is not the recorded set:
// before expand has finished, booking-service of this version does not
// write (phase expanding: it refuses status changes until expand is done; at
// none it is deployed after expand), so writers are the old code writing the
// labels the type has.
std::pair<std::string, std::string> WritersWrite(const MigrationState& s,
                                                 const std::vector<std::string>& labels) {
  if (s.phase != kPhaseNone && s.phase != kPhaseExpanding) return {s.write_labels, ""};
  bool old = false;
  for (const std::string& l : labels) old = old || IsOldOnly(l);
  if (!old) return {"new", "the type holds only the new labels"};
  return {"old", s.phase == kPhaseNone
                     ? "expand has not run: writers are the code of before the change; "
                       "booking-service of this version is deployed after expand"
                     : "expand has not finished; until it has, booking-service of this "
                       "version refuses status changes"};
}

// Rows per label of every column of the type, and how many hold old labels.
absl::StatusOr<int64_t> AddColumnCounts(PhaseContext& ctx, const StatusPlan& plan,
                                        google::protobuf::ListValue& columns) {
  int64_t old_rows = 0;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
      if (!c->refusal().empty()) continue;  // maybe not even readable: said as refused
      google::protobuf::Struct col;
      auto& cf = *col.mutable_fields();
      cf["column"].set_string_value(c->name());
      auto& per_label = *cf["counts"].mutable_struct_value()->mutable_fields();
      pqxx::result rows;
      try {  // a count the role may not make (row security) is said, not fatal
        pqxx::subtransaction sub(dynamic_cast<pqxx::dbtransaction&>(tx.raw()));
        rows = sub.exec(absl::StrCat("SELECT ", c->printed_column(),
                                     "::text AS label, count(*) AS n FROM ", c->table(),
                                     " GROUP BY 1 ORDER BY 1"));
        sub.commit();
      } catch (const pqxx::sql_error& e) {
        cf["unreadable"].set_string_value(e.what());
      }
      for (const pqxx::row& row : rows) {
        const std::string label = row["label"].is_null() ? "NULL" : row["label"].as<std::string>();
        per_label[label].set_number_value(row["n"].as<double>());
        if (IsOldOnly(label)) old_rows += row["n"].as<int64_t>();
      }
      *columns.add_values()->mutable_struct_value() = col;
    }
  });
  if (!read.ok()) return read;
  return old_rows;
}

void PrintText(const google::protobuf::Struct& report, std::ostream& out) {
  const auto& f = report.fields();
  const auto str = [&](const char* k) { return f.at(k).string_value(); };
  out << "booking store status migration: phase " << str("phase") << " (next: " << str("next")
      << ")\n"
      << "  writers write:     the " << str("writeLabels") << " labels"
      << (str("writeLabelsNote").empty() ? "" : absl::StrCat(" (", str("writeLabelsNote"), ")"))
      << "\n"
      << "  labels now:        " << str("labels") << "\n"
      << "  original labels:   " << str("originalLabels") << "\n";
  if (!str("backfilledAt").empty()) {
    out << "  backfilled at:     " << str("backfilledAt") << " (compatibility window ends "
        << str("compatibilityWindowEnds") << ")\n";
  }
  for (const auto& v : f.at("columns").list_value().values()) {
    const auto& cf = v.struct_value().fields();
    out << "  " << cf.at("column").string_value() << ":";
    if (cf.count("unreadable") > 0)
      out << " cannot be counted: " << cf.at("unreadable").string_value();
    const auto& counts = cf.at("counts").struct_value().fields();
    std::vector<std::string> names;
    for (const auto& entry : counts) names.push_back(entry.first);
    std::sort(names.begin(), names.end());
    for (const std::string& label : names) {
      out << " " << label << "=" << static_cast<int64_t>(counts.at(label).number_value());
    }
    out << "\n";
  }
  out << "  rows with old labels: "
      << static_cast<int64_t>(f.at("rowsWithOldLabels").number_value())
      << "\n  objects carried:   " << static_cast<int64_t>(f.at("objectsCarried").number_value())
      << "\n";
  for (const auto& v : f.at("refused").list_value().values()) {
    out << "  REFUSED: " << v.string_value() << "\n";
  }
  for (const auto& v : f.at("labelWriters").list_value().values()) {
    out << "  wrote labels of the other set: " << v.string_value() << "\n";
  }
}

}  // namespace

absl::Status StatusMigration::Plan() {
  const absl::StatusOr<StatusPlan> plan = CurrentPlan(ctx_);
  if (!plan.ok()) return plan.status();
  const absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok() && !absl::IsFailedPrecondition(state.status())) return state.status();
  const std::string phase = state.ok() ? state->phase : kPhaseNone;
  PrintPlan(*plan, ctx_.options.json, phase, ctx_.out);
  if (plan->carryable() || phase == kPhaseContracted) return absl::OkStatus();
  return Refused(absl::StrCat(phase == kPhaseNone ? "expand" : "the next phase",
                              " would refuse: objects above cannot be carried (see each REFUSED "
                              "line)"));
}

absl::Status StatusMigration::PrintStatus() {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  google::protobuf::Struct report;
  auto& f = *report.mutable_fields();
  f["phase"].set_string_value(state->phase);
  f["next"].set_string_value(Next(*state));
  const auto [write_labels, why] = WritersWrite(*state, ctx_.store.labels);
  f["writeLabels"].set_string_value(write_labels);
  f["writeLabelsNote"].set_string_value(why);
  f["labels"].set_string_value(absl::StrJoin(ctx_.store.labels, ","));
  f["originalLabels"].set_string_value(absl::StrJoin(state->original_labels, ","));
  f["backfilledAt"].set_string_value(state->backfilled_at);
  f["compatibilityWindowEnds"].set_string_value(state->window_ends);
  const absl::StatusOr<int64_t> old_rows =
      AddColumnCounts(ctx_, plan, *f["columns"].mutable_list_value());
  if (!old_rows.ok()) return old_rows.status();
  f["rowsWithOldLabels"].set_number_value(static_cast<double>(*old_rows));
  int carried = 0;
  for (const PlanObject& o : plan.objects()) carried += o.refusal().empty() ? 1 : 0;
  f["objectsCarried"].set_number_value(carried);
  auto* refused = f["refused"].mutable_list_value();
  for (const std::string& r : Refusals(plan)) refused->add_values()->set_string_value(r);
  auto* writers = f["labelWriters"].mutable_list_value();
  const absl::StatusOr<std::vector<std::string>> label_writers = LabelWriters(ctx_);
  if (!label_writers.ok()) return label_writers.status();
  for (const std::string& w : *label_writers) writers->add_values()->set_string_value(w);
  if (ctx_.options.json) {
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(report, &text);
    ctx_.out << text << "\n";
    return absl::OkStatus();
  }
  PrintText(report, ctx_.out);
  return absl::OkStatus();
}

}  // namespace booking::migrator
