#include "migrator/status_enum/state.h"

#include "absl/strings/str_split.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "migrator/status_enum/plan.h"

namespace booking::migrator {

absl::StatusOr<MigrationState> ReadState(Tx& tx, absl::Duration compatibility_window) {
  if (tx.Exec(R"(SELECT to_regclass('"StatusMigration"') IS NULL AS missing)")[0]["missing"]
          .as<bool>()) {
    return absl::FailedPreconditionError(
        "the booking store has no status-migration state; run `migrator up` first");
  }
  pqxx::result r = tx.Params(
      R"(SELECT phase AS phase, "writeLabels" AS write_labels,
                COALESCE(array_to_string("originalLabels", E'\n'), '') AS original_labels,
                COALESCE("backfilledAt"::text, '') AS backfilled_at,
                COALESCE(("backfilledAt" + make_interval(secs => $1))::text, '') AS window_ends,
                COALESCE(now() >= "backfilledAt" + make_interval(secs => $1), false)
                  AS window_passed,
                COALESCE(plan, '') AS plan
         FROM "StatusMigration")",
      absl::ToDoubleSeconds(compatibility_window));
  if (r.empty()) {
    return absl::FailedPreconditionError(
        "the status-migration state row is missing; run `migrator up` again");
  }
  const pqxx::row row = r[0];
  MigrationState s;
  s.phase = row["phase"].as<std::string>();
  s.write_labels = row["write_labels"].as<std::string>();
  const std::string labels = row["original_labels"].as<std::string>();
  if (!labels.empty()) s.original_labels = absl::StrSplit(labels, '\n');
  s.backfilled_at = row["backfilled_at"].as<std::string>();
  s.window_ends = row["window_ends"].as<std::string>();
  s.window_passed = row["window_passed"].as<bool>();
  s.plan_json = row["plan"].as<std::string>();
  return s;
}

void LogAction(Tx& tx, const std::string& action, const std::string& from, const std::string& to,
               const std::string& detail) {
  tx.Params(R"(INSERT INTO "StatusMigrationLog" (action, "fromPhase", "toPhase", detail)
               VALUES ($1, $2, $3, $4))",
            action, from, to, detail);
}

void SetPhase(Tx& tx, const std::string& from, const std::string& to, const std::string& action,
              const std::string& detail) {
  tx.Params(R"(UPDATE "StatusMigration" SET phase = $1, "updatedAt" = now(),
                 "backfilledAt" = CASE WHEN $1 = 'backfilled' AND $2 IN ('expanded', 'backfilling')
                                       THEN COALESCE("backfilledAt", now())
                                       WHEN $1 IN ('none', 'expanding', 'expanded', 'backfilling')
                                         THEN NULL
                                       ELSE "backfilledAt" END,
                 "verifiedAt" = CASE WHEN $1 = 'verified' AND $2 = 'backfilled' THEN now()
                                     WHEN $1 IN ('none', 'expanding', 'expanded', 'backfilling',
                                                 'backfilled') THEN NULL
                                     ELSE "verifiedAt" END,
                 "contractedAt" = CASE WHEN $1 = 'contracted' THEN now() ELSE NULL END)",
            to, from);
  LogAction(tx, action, from, to, detail);
  LogInfo("phase changed", {{"action", action}, {"from", from}, {"to", to}, {"detail", detail}});
}

void SetWriteLabels(Tx& tx, const std::string& labels) {
  tx.Params(R"(UPDATE "StatusMigration" SET "writeLabels" = $1, "writeLabelsSince" = now(),
                                        "updatedAt" = now())",
            labels);
}

void RecordPlan(Tx& tx, const StatusPlan& plan) {
  std::string json;
  StatusPlan recorded = WithoutFacts(plan);
  recorded.clear_notes();
  (void)google::protobuf::util::MessageToJsonString(recorded, &json);
  tx.Params(R"(UPDATE "StatusMigration" SET plan = $1)", json);
}

StatusPlan RecordedPlan(const MigrationState& state) {
  StatusPlan plan;
  if (!state.plan_json.empty()) {
    (void)google::protobuf::util::JsonStringToMessage(state.plan_json, &plan);
  }
  return plan;
}

}  // namespace booking::migrator
