#include "migrator/status_enum/plan_rules.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "migrator/status_enum/names.h"

namespace booking::migrator {
namespace {

struct KindRule {
  const char* kind;
  const char* refusal;
  const char* remedy;
  bool assumable;  // an operator may take it over by hand (--assume-handled)
};

// Every kind of object a reader may find that no strategy carries.
constexpr KindRule kRefusedKinds[] = {
    {"label",
     "the type has a label that is in neither the old nor the new status set; contract would "
     "remove it",
     "relabel the rows holding it to a known status (and remove the label), or add it to the "
     "status catalog in a new release of the services",
     false},
    {"composite type",
     "a composite type has an attribute of the status type; PostgreSQL cannot change it in place",
     "change that attribute to text (or drop the type) before expand", false},
    {"foreign table", "a foreign table's column has the type; its rows live elsewhere",
     "change the column to text before expand, and back after contract", false},
    {"array column",
     "a column is an array of the type (or of a type holding it); its elements cannot be "
     "relabelled in batches",
     "change it to text[] (or a child table) before expand", false},
    {"row value column",
     "a column stores rows of a table (or composite) holding the status type: contract replaces "
     "the status column, and every stored row value would read NULL there for good",
     "store those rows as jsonb (ALTER TABLE ... ALTER COLUMN ... TYPE jsonb USING to_jsonb(...)) "
     "or drop the column before expand",
     false},
    {"domain column", "a column's type is a domain over the status type",
     "change the column to the status type itself (or text) before expand", false},
    {"range column", "a column is of a range (or multirange) over the status type",
     "change it to two columns of the type (or text) before expand", false},
    {"partition default",
     "a partition's column of the type has a default of its own: the column contract puts in "
     "its place gets the table's",
     "give the partition the table's default (or drop its own) before expand, and set it again "
     "after contract",
     false},
    {"temporary table",
     "a temporary table (of another session) has a column of the type; the migrator cannot "
     "reach it",
     "end the sessions holding it before expand", false},
    {"publication",
     "logical replication publishes a table with a column of the type: contract replaces that "
     "column (a new type, the new labels), which every subscriber must follow",
     "take the table out of the publication for the change (ALTER PUBLICATION ... DROP TABLE), "
     "or, when the subscribers (CDC consumers) accept the replaced column and the new labels, "
     "run again with --assume-handled naming the publication",
     true},
    {"event trigger",
     "an event trigger would fire on the migrator's DDL (ALTER TYPE, CREATE INDEX CONCURRENTLY, "
     "the swap) and could refuse or log it",
     "disable it for the change (ALTER EVENT TRIGGER ... DISABLE), or run the migrator as a role "
     "that may set session_replication_role, which keeps ENABLE (origin) event triggers quiet",
     false},
    {"inherited table", "table inheritance (not partitioning) links this column to others",
     "detach the inheritance children (or turn them into partitions) before expand", false},
    {"partition key",
     "the table is partitioned by the status column: its partition bounds name labels and the "
     "key's type cannot change without rebuilding the table",
     "repartition by another column before expand", false},
    {"generated column",
     "a stored generated column is computed from a column of the type: PostgreSQL 15 cannot "
     "change its expression without rewriting the table, and it would compute wrongly once rows "
     "hold new labels",
     "drop the generated column before expand and add it back after contract, or make it a "
     "plain column",
     false},
    {"constraint index",
     "it backs a primary key, unique or exclusion constraint on a column of the type",
     "replace the constraint by a unique index (CREATE UNIQUE INDEX CONCURRENTLY, then ALTER "
     "TABLE ... DROP CONSTRAINT) before expand",
     false},
    {"unique index on status",
     "a unique index has a column of the type in its key: while both label sets are in use, an "
     "old label and its new one are different keys for the same status, so it cannot enforce "
     "what it did (and a relabel could collide)",
     "drop it before expand and create it again after contract, or key it on a column that is "
     "not of the type",
     false},
    {"replica identity", "it is the table's replica identity; logical replication would lose it",
     "set another replica identity before expand", false},
    {"invalid index", "the index is invalid (an interrupted CREATE INDEX CONCURRENTLY?)",
     "drop it (DROP INDEX CONCURRENTLY) or rebuild it (REINDEX INDEX CONCURRENTLY) before expand",
     false},
    {"constraint trigger", "a constraint trigger names the column; it cannot be replaced in place",
     "drop it before expand and create it again after contract", false},
    {"foreign key",
     "a foreign key involves a column of the type; the migrator cannot move it to the new type "
     "without a long lock",
     "drop the foreign key before expand, and recreate it after contract", false},
    {"constraint",
     "a primary key, unique or exclusion constraint involves a column of the type; the migrator "
     "cannot move it to the new type without a long lock",
     "replace it by a unique index before expand, and recreate it after contract", false},
    {"default", "a default of another column names the type",
     "change that default so it does not name the type before expand", false},
    {"function",
     "a function takes, returns or is built on the type; PostgreSQL cannot change a function's "
     "signature in place",
     "drop it before expand and create it again after contract (or make it take text)", false},
    {"function on row type",
     "a function takes or returns rows of a table holding the status type: contract moves the "
     "status column to the end of that row type, and what the function does with the status "
     "cannot be checked",
     "drop it before expand and create it again after contract, or, when it neither depends on "
     "the column order nor on status labels, run again with --assume-handled naming it",
     true},
    {"domain", "a domain is built on the status type; the migrator cannot move it to the new one",
     "replace it by the type itself or by text before expand", false},
    {"type", "a type is built on the status type; the migrator cannot move it to the new one",
     "replace it by the type itself or by text before expand", false},
    {"statistics", "extended statistics include a column of the type",
     "DROP STATISTICS before expand and CREATE STATISTICS after contract", false},
    {"extension", "the type belongs to an extension", "upgrade the extension instead", false},
    {"materialized view",
     "a materialized view stores rows of the type; it cannot be moved to the new type without "
     "being rebuilt and repopulated",
     "drop it before expand and create it again after contract", false},
    {"view dependent",
     "it depends on a view the migrator recreates at contract; DROP VIEW would take it along",
     "drop it before expand and recreate it after contract", false},
    {"function body",
     "its body names an old status label as text (or a pattern matching one); PostgreSQL records "
     "no dependency on it, so the migrator cannot rewrite it and it would answer wrongly once "
     "rows hold new labels (and fail after contract)",
     "make it accept the old and the new labels (compare status::text with both), then run again "
     "with --assume-handled naming it; after contract drop the old labels from it",
     true},
    {"other", "an object of a kind the migrator does not carry depends on the type",
     "drop it before expand and recreate it after contract", false},
};

const KindRule* RuleFor(const std::string& kind) {
  for (const KindRule& r : kRefusedKinds) {
    if (kind == r.kind) return &r;
  }
  return nullptr;
}

}  // namespace

bool IsCarriedKind(const std::string& kind) {
  return kind == "column" || kind == "index" || kind == "view" || kind == "check" ||
         kind == "trigger" || kind == "policy" || kind == "rule" || kind == "plpgsql function";
}

void AddRefusal(PlanObject& o, const std::string& reason, const std::string& remedy) {
  if (o.refusal().find(reason) != std::string::npos) return;
  o.set_refusal(o.refusal().empty() ? reason : absl::StrCat(o.refusal(), "; ", reason));
  if (o.remedy().find(remedy) == std::string::npos) {
    o.set_remedy(o.remedy().empty() ? remedy : absl::StrCat(o.remedy(), "; ", remedy));
  }
}

void JudgeKinds(StatusPlan& plan, const std::vector<std::string>& assume_handled) {
  for (PlanObject& o : *plan.mutable_objects()) {
    if (IsCarriedKind(o.kind())) continue;
    const KindRule* rule = RuleFor(o.kind());
    const bool handled =
        rule != nullptr && rule->assumable &&
        std::find(assume_handled.begin(), assume_handled.end(), o.name()) != assume_handled.end();
    if (handled) {
      o.clear_refusal();
      o.set_at_expand("left to the operator (--assume-handled)");
      continue;
    }
    if (!o.refusal().empty()) continue;  // judged where it was found (row security, ...)
    if (rule == nullptr) rule = RuleFor("other");
    const std::string reason =
        o.detail().empty() ? rule->refusal : absl::StrCat(rule->refusal, " (", o.detail(), ")");
    AddRefusal(o, reason, rule->remedy);
  }
}

namespace {

// What changing `o` needs that the role lacks, as a refusal.
void RefuseUnless(PlanObject& o, const std::string& role, bool superuser) {
  if (!o.schema().empty() && !o.schema_usage()) {
    AddRefusal(o,
               absl::StrCat("the migrator's role ", role, " has no USAGE on schema ", o.schema(),
                            ", so it cannot read or change it"),
               absl::StrCat("GRANT USAGE ON SCHEMA ", o.schema(), " TO ", role));
  }
  if (!o.owner().empty() && !o.can_alter()) {
    AddRefusal(o,
               absl::StrCat("it is owned by ", o.owner(), ", and the migrator's role ", role,
                            " may not change it (each phase rewrites or recreates it)"),
               absl::StrCat("GRANT ", o.owner(), " TO ", role, " (or run the migrator as ",
                            o.owner(), ")"));
  }
  if (o.kind() == "view" && !o.owner_may_create() && !superuser) {
    AddRefusal(o,
               absl::StrCat("contract recreates it and gives it back to its owner ", o.owner(),
                            ", which PostgreSQL allows only when that role has CREATE on schema ",
                            o.schema()),
               absl::StrCat("GRANT CREATE ON SCHEMA ", o.schema(), " TO ", o.owner()));
  }
  if (o.kind() == "view" && !o.schema().empty() && !o.schema_create()) {
    AddRefusal(o, absl::StrCat("contract recreates it, which needs CREATE on schema ", o.schema()),
               absl::StrCat("GRANT CREATE ON SCHEMA ", o.schema(), " TO ", role));
  }
}

}  // namespace

void JudgePrivileges(StatusPlan& plan) {
  const ::migrator::v1::RoleFacts& r = plan.role();
  if (r.name().empty()) return;  // not read (a plan from before)
  const std::string role = r.name();
  const std::string type = plan.type();
  if (!r.owns_type()) {
    PlanObject& o = *plan.add_objects();
    o.set_kind("privilege");
    o.set_name(absl::StrCat("type ", type));
    o.set_refusal(absl::StrCat("the type is owned by ", r.type_owner(), "; the migrator's role ",
                               role, " may not add labels to it or replace it"));
    o.set_remedy(absl::StrCat("GRANT ", r.type_owner(), " TO ", role,
                              " (or ALTER TYPE ... OWNER TO ", role, ")"));
  }
  if (!r.type_owner_may_create() && !r.superuser()) {  // superusers may anyway
    PlanObject& o = *plan.add_objects();
    o.set_kind("privilege");
    o.set_name(absl::StrCat("type ", type, " (its owner)"));
    o.set_refusal(absl::StrCat(
        "contract replaces the type and gives the new one to its owner ", r.type_owner(),
        ", which PostgreSQL allows only when that role has CREATE on schema ",
        plan.types().type_schema()));
    o.set_remedy(absl::StrCat("GRANT CREATE ON SCHEMA ", plan.types().type_schema(), " TO ",
                              r.type_owner()));
  }
  const std::vector<std::pair<bool, std::string>> schemas = {
      {r.create_in_store_schema(), r.store_schema()},
      {r.create_in_type_schema(), plan.types().type_schema()}};
  for (const auto& [may, schema] : schemas) {
    if (may || schema.empty()) continue;
    PlanObject& o = *plan.add_objects();
    o.set_kind("privilege");
    o.set_name(absl::StrCat("schema ", schema));
    o.set_refusal(absl::StrCat("the migrator creates objects in schema ", schema,
                               " (the new type, the backup table, its trigger functions), and its "
                               "role ",
                               role, " has no CREATE there"));
    o.set_remedy(absl::StrCat("GRANT CREATE ON SCHEMA ", schema, " TO ", role));
  }
  for (PlanObject& o : *plan.mutable_objects()) {
    if (IsCarriedKind(o.kind())) RefuseUnless(o, role, r.superuser());
  }
}

std::vector<CreatedName> CreatedNames(const StatusPlan& plan) {
  std::vector<CreatedName> out;
  const std::string store_schema = plan.role().store_schema();
  out.push_back({"relation", plan.types().type_schema(),
                 Suffixed(plan.types().type_name(), kNextTypeSuffix), "contract"});
  out.push_back({"relation", store_schema, kBackupTable, "expand"});
  out.push_back({"function", store_schema, kCaptureFunction, "expand"});
  for (const PlanObject& o : plan.objects()) {
    if (!o.refusal().empty()) continue;
    const std::string& table = o.table();
    if (o.kind() == "column") {
      out.push_back({"column", table, ShadowColumn(o.column()), "contract"});
      out.push_back({"trigger", table, SyncTrigger(o.table_raw(), o.column()), "contract"});
      out.push_back({"function", store_schema,
                     SyncFunction(o.schema(), store_schema, o.table_raw(), o.column()),
                     "contract"});
      out.push_back({"constraint", table, NotNullCheck(o.column()), "contract"});
    } else if (o.kind() == "index") {
      out.push_back({"relation", o.schema(), NextName(o.raw_name()), "contract"});
      if (o.labels_size() > 0)
        out.push_back({"relation", o.schema(), WideName(o.raw_name()), "expand"});
      for (const std::string& child : o.children()) {
        const std::string raw = child.substr(child.find('|') + 1);
        out.push_back({"relation", o.schema(), Suffixed(raw, "__next"), "contract"});
        if (o.labels_size() > 0)
          out.push_back({"relation", o.schema(), Suffixed(raw, "__wide"), "expand"});
      }
    } else if (o.kind() == "check") {
      out.push_back({"constraint", o.table(), NextName(o.raw_name()), "contract"});
      if (o.labels_size() > 0)
        out.push_back({"constraint", o.table(), WideName(o.raw_name()), "expand"});
    }
  }
  return out;
}

void JudgeNames(StatusPlan& plan) {
  std::map<CreatedName, int> seen;
  for (const CreatedName& n : CreatedNames(plan)) ++seen[n];
  for (const auto& [n, count] : seen) {
    if (count < 2) continue;
    PlanObject& o = *plan.add_objects();
    o.set_kind("name collision");
    o.set_name(absl::StrCat(n.what, " ", n.name));
    o.set_refusal(
        "two objects the migrator would create get the same name (PostgreSQL cuts names at 63 "
        "bytes)");
    o.set_remedy("rename one of the objects these names derive from before expand");
  }
}

}  // namespace booking::migrator
