#include "migrator/status_enum/retire.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/index_build.h"
#include "migrator/status_enum/names.h"
#include "migrator/status_enum/plan.h"

namespace booking::migrator {
namespace {

enum class Original { kMissing, kInvalid, kValid };

struct IndexPair {
  Original original = Original::kMissing;
  bool next_valid = false;  // the replacement on the shadow column
};

IndexPair ReadPair(Tx& tx, const PlanObject& o) {
  const pqxx::row r = tx.Params(
      R"(SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)) AS original,
                COALESCE((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($2)),
                         false) AS next_valid)",
      Sibling(tx, o.table(), o.raw_name()), Sibling(tx, o.table(), NextName(o.raw_name())))[0];
  IndexPair p;
  if (!r["original"].is_null()) {
    p.original = r["original"].as<bool>() ? Original::kValid : Original::kInvalid;
  }
  p.next_valid = r["next_valid"].as<bool>();
  return p;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RetireOldIndexes(
    PhaseContext& ctx, const std::vector<const PlanObject*>& indexes) {
  std::vector<std::string> dropped;
  for (const PlanObject* o : indexes) {
    if (o->partitioned()) continue;
    const absl::StatusOr<IndexPair> pair =
        ctx.db.Read<IndexPair>([&](Tx& tx) { return ReadPair(tx, *o); });
    if (!pair.ok()) return pair.status();
    if (!pair->next_valid || pair->original == Original::kMissing) continue;
    if (absl::Status s = DropIndexIfExists(ctx, *o, o->raw_name()); !s.ok()) return s;
    dropped.push_back(o->name());
  }
  return dropped;
}

absl::StatusOr<std::vector<const PlanObject*>> RetiredIndexes(PhaseContext& ctx,
                                                              const StatusPlan& recorded) {
  return ctx.db.Read<std::vector<const PlanObject*>>([&](Tx& tx) {
    std::vector<const PlanObject*> retired;
    for (const PlanObject& o : recorded.objects()) {
      if (o.kind() != "index" || o.partitioned()) continue;
      const IndexPair p = ReadPair(tx, o);
      if (p.next_valid && p.original != Original::kValid) retired.push_back(&o);
    }
    return retired;
  });
}

absl::Status FinishRetirement(PhaseContext& ctx, const StatusPlan& recorded) {
  const absl::StatusOr<std::vector<const PlanObject*>> retired = RetiredIndexes(ctx, recorded);
  if (!retired.ok()) return retired.status();
  for (const PlanObject* o : *retired) {
    if (absl::Status s = DropIndexIfExists(ctx, *o, o->raw_name()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RestoreRetired(PhaseContext& ctx, const StatusPlan& recorded) {
  const absl::StatusOr<std::vector<const PlanObject*>> retired = RetiredIndexes(ctx, recorded);
  if (!retired.ok()) return retired.status();
  for (const PlanObject* o : *retired) {
    const RewriteContext rc = ContextFor(recorded, o->table(), "");
    const absl::StatusOr<std::string> wide =
        Rewrite(SplitIndexDefinition(o->definition()).second, rc, DefinitionMode::kWiden, false);
    if (!wide.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("index ", o->name(), " (retired by contract): ", wide.status().message()));
    }
    // An invalid original (an interrupted drop) is dropped and built again.
    if (absl::Status s = BuildIndex(ctx, *o, o->raw_name(), *wide, ""); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace booking::migrator
