// Default deny for stored expressions: every place a value of the status
// type (or its label turned into text) flows to in a definition as
// PostgreSQL keeps it (node_tree.h) must be one the migrator knows how to
// carry through every phase; anything else is refused with the reason.
//
// Carried: a value compared with label literals by = or <> (also IN, NOT IN,
// = ANY, <> ALL, a searched or simple CASE), tested for NULL, counted, its
// min or max, sorted, grouped, or passed out as a view's (or index's, or
// default's) value; its label as text compared the same way; OLD and NEW of
// the same column compared in a trigger's WHEN or a rule. Refused: anything
// else, e.g. the label as text in LIKE, a regular expression, substring,
// concatenation or an ordering comparison; a value passed to a function;
// label order (<, >, GREATEST); two different columns or rows compared (one
// may hold an old label and the other its new one); text computed at run
// time turned into the type; rows holding the type built or passed around;
// any node the checks do not know. A SQL function body may name no label at
// all (bodies are not rewritten).
//
// Pure: no database. Thread-compatible.
#ifndef MIGRATOR_STATUS_ENUM_EXPR_CHECK_H_
#define MIGRATOR_STATUS_ENUM_EXPR_CHECK_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "migrator/v1/status_plan.pb.h"

namespace booking::migrator {

enum class ExprUse {
  kCondition,  // a CHECK, index predicate, policy, trigger WHEN, rule WHERE
  kValue,      // a column default or index expressions: the value is kept
  kQueries,    // a view's query or a rule's actions: outputs reach callers
  kBody,       // a SQL function's body (BEGIN ATOMIC): names no label at all
};

// Output columns of views carrying labels as text: (view oid, column number).
using LabelTextColumns = std::set<std::pair<uint32_t, int>>;

struct ExprVerdict {
  std::vector<std::string> refusals;  // why it cannot be carried, each once
  // Every label literal it names (enum literals, and text literals compared
  // with a label as text), one entry per occurrence, in tree order.
  std::vector<std::string> labels;
  // kQueries: output columns (numbers) that carry a label as text.
  std::vector<int> label_text_outputs;
};

// Judges one stored expression (`tree`, pg_node_tree text). `old_new`: Vars
// 1 and 2 are OLD and NEW of one table (a trigger's WHEN, a rule).
ExprVerdict CheckStoredExpr(absl::string_view tree, ExprUse use,
                            const ::migrator::v1::TypeFacts& types,
                            const LabelTextColumns& label_text_columns, bool old_new);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_EXPR_CHECK_H_
