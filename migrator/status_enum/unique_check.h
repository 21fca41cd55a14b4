// Before contract rebuilds a unique index with its narrowed predicate: the
// rows as they are must satisfy it. (A widened index, from expand on,
// enforces uniqueness over both label sets, which implies the narrowed one;
// an index created during the window may not.) Otherwise the concurrent build would fail halfway
// (23505) with the phase begun; the phase refuses first, naming the
// duplicates.
//
// No function here throws: what a statement throws is returned as a status
// (Db, see db.h).
#ifndef MIGRATOR_STATUS_ENUM_UNIQUE_CHECK_H_
#define MIGRATOR_STATUS_ENUM_UNIQUE_CHECK_H_

#include "absl/status/status.h"
#include "migrator/status_enum/context.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {

// Refused (exit 6) when a unique index of `plan` that names labels, its
// definition rewritten for `mode` (from its recorded original in
// `recorded` where there is one), would find duplicate rows.
absl::Status CheckUniqueIndexes(PhaseContext& ctx, const StatusPlan& plan,
                                const StatusPlan& recorded, DefinitionMode mode);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_UNIQUE_CHECK_H_
