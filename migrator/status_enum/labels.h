// The two label sets of "BookingStatus" as the migrator sees them, and the
// maps between them: for stored values (one label to one label) and for the
// literals of definitions (a literal in a comparison may stand for several
// labels while both sets are in use).
#ifndef MIGRATOR_STATUS_ENUM_LABELS_H_
#define MIGRATOR_STATUS_ENUM_LABELS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace booking::migrator {

std::vector<std::string> OldLabels();      // the old set, in its order
std::vector<std::string> NewLabels();      // the new set, in its order
std::vector<std::string> OldOnlyLabels();  // in the old set only
std::vector<std::string> NewOnlyLabels();  // in the new set only

bool IsOldOnly(absl::string_view label);
bool IsNewOnly(absl::string_view label);
bool IsKnownLabel(absl::string_view label);  // in either set

// Old-only label -> its new label (IN_WORKSHOP -> AT_WORKSHOP); any other
// label -> itself.
std::string ForwardLabel(absl::string_view label);
// New-only label -> the old label a rollback writes (IN_SERVICE ->
// IN_WORKSHOP); any other label -> itself.
std::string ReverseLabelOf(absl::string_view label);
// Old-only label -> every new label that reads back as it (IN_WORKSHOP ->
// AT_WORKSHOP, IN_SERVICE); any other label -> itself.
std::vector<std::string> Preimage(absl::string_view label);

// Every label of both sets in the order the type keeps them while both are
// in use: each old label followed by the new labels that read back as it
// (... CONFIRMED, JOCKEY_ASSIGNED, PICKUP_ASSIGNED, IN_TRANSIT_TO_WORKSHOP,
// PICKED_UP, ...). Each set keeps its own order within it, and a row sorts
// with its status whichever set it holds: `status < 'DELIVERED'`, ORDER BY
// status and max(status) answer the same in every phase.
std::vector<std::string> WindowOrder();

// Where ALTER TYPE ... ADD VALUE puts `label` in a type holding `existing`,
// following WindowOrder: "BEFORE 'X'" or "AFTER 'Y'" ("" when the type holds
// none of its neighbours).
using QuoteFn = std::function<std::string(const std::string&)>;
std::string Placement(const std::vector<std::string>& existing, const std::string& label,
                      const QuoteFn& quote);

// The labels standing for one status while both sets are in use: the old
// label `label` reads back as and every new label reading back as it
// (IN_SERVICE -> IN_WORKSHOP, AT_WORKSHOP, IN_SERVICE); a shared label alone.
std::vector<std::string> StatusClass(absl::string_view label);

// What a definition written against one phase's labels is rewritten to.
enum class DefinitionMode {
  kWiden,   // accept old and new labels (expand .. verify)
  kNarrow,  // new labels only (contract)
  kToOld,   // old labels only (rollback of expand)
};

// The labels a literal naming `label` stands for where it is compared
// (=, <>, IN): in kWiden an old label and every new label reading back as it.
std::vector<std::string> ComparisonLabels(absl::string_view label, DefinitionMode mode);
// The one label a literal used as a value becomes (a default, a CASE result).
std::string ValueLabel(absl::string_view label, DefinitionMode mode);

// SQL for `expr` (text) mapped label by label: old-only labels to their new
// ones, or new-only labels to their old ones; others pass through. `quote`
// quotes a value (the connection's quoting).
std::string ForwardCaseSql(const std::string& expr, const QuoteFn& quote);
std::string ReverseCaseSql(const std::string& expr, const QuoteFn& quote);
// "ARRAY['A', 'B']::text[]" for a constant list of labels.
std::string LabelArraySql(const std::vector<std::string>& labels, const QuoteFn& quote);

// A PostgreSQL array literal ('{"A","B"}') of text values, for binding a
// list of labels as one parameter.
std::string TextArrayLiteral(const std::vector<std::string>& values);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_LABELS_H_
