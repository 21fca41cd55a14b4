#include "migrator/status_enum/unique_check.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/sql_tokens.h"

namespace booking::migrator {
namespace {

// The predicate of an index definition's part after USING ("" when none).
std::string Predicate(const std::string& tail) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(tail);
  if (!tokens.ok()) return "";
  int depth = 0;
  for (const Token& t : *tokens) {
    if (t.Is(TokenKind::kPunct, "(")) ++depth;
    if (t.Is(TokenKind::kPunct, ")")) --depth;
    if (depth == 0 && t.IsWord("WHERE")) return tail.substr(t.end);
  }
  return "";
}

// Keys of the rows that would collide, as text; empty when none.
absl::StatusOr<std::string> Duplicates(PhaseContext& ctx, const PlanObject& index,
                                       const std::string& predicate) {
  std::string found;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    pqxx::result keys = tx.Params(
        R"(SELECT pg_get_indexdef(i.indexrelid, k, true) AS key,
                  pg_get_indexdef(i.indexrelid) LIKE '%NULLS NOT DISTINCT%' AS nulls_not_distinct
           FROM pg_index i, generate_series(1, i.indnkeyatts) AS k
           WHERE i.indexrelid = $1::regclass ORDER BY k)",
        index.name());
    std::vector<std::string> exprs, not_null;
    for (const pqxx::row& k : keys) {
      exprs.push_back(absl::StrCat("(", k["key"].c_str(), ")"));
      if (!k["nulls_not_distinct"].as<bool>()) {
        not_null.push_back(absl::StrCat("(", k["key"].c_str(), ") IS NOT NULL"));
      }
    }
    if (exprs.empty()) return;
    std::vector<std::string> where = not_null;
    if (!predicate.empty()) where.push_back(absl::StrCat("(", predicate, ")"));
    pqxx::result r = tx.Exec(absl::StrCat(
        "SELECT concat_ws(', ', ", absl::StrJoin(exprs, ", "), ") AS key FROM ", index.table(),
        where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND ")), " GROUP BY ",
        absl::StrJoin(exprs, ", "), " HAVING count(*) > 1 LIMIT 3"));
    std::vector<std::string> dup;
    for (const pqxx::row& d : r) dup.push_back(absl::StrCat("(", d["key"].c_str(), ")"));
    found = absl::StrJoin(dup, ", ");
  });
  if (!read.ok()) return read;
  return found;
}

}  // namespace

absl::Status CheckUniqueIndexes(PhaseContext& ctx, const StatusPlan& plan,
                                const StatusPlan& recorded, DefinitionMode mode) {
  std::vector<std::string> problems;
  for (const PlanObject* index : ObjectsOfKind(plan, "index")) {
    if (!index->unique() || !NamesLabels(*index)) continue;
    const PlanObject& source = Source(*index, recorded);
    absl::StatusOr<std::string> tail = Rewrite(SplitIndexDefinition(source.definition()).second,
                                               ContextFor(plan, index->table(), ""), mode, false);
    if (!tail.ok()) return tail.status();
    const absl::StatusOr<std::string> duplicates = Duplicates(ctx, *index, Predicate(*tail));
    if (!duplicates.ok()) return duplicates.status();
    if (duplicates->empty()) continue;
    problems.push_back(absl::StrCat("unique index ", index->name(), " would not hold for ", *tail,
                                    ": duplicate keys ", *duplicates));
  }
  if (problems.empty()) return absl::OkStatus();
  return Refused(absl::StrCat(
      "refused; nothing was changed: ", absl::StrJoin(problems, "; "),
      ". Resolve the duplicates (rows that held different labels before may share one now), then "
      "run again"));
}

}  // namespace booking::migrator
