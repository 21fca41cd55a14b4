// The capture trigger the migrator keeps on "Booking" from expand until
// contract: every status change has its history entry, also one made with
// plain SQL by code that knows nothing of versions or history (old code
// during the compatibility window). Such a change gets its version bumped
// and its outbox event written where it happens, in the writer's
// transaction, with changedBy naming the database role, the application
// and the client. A write that keeps the status in history's names (an old
// label to its own new name, as backfill relabels) is no status change:
// nothing is recorded and the version stays, whoever writes it (RecordSql in
// capture.cc says why that is no bypass). It does not fire in sessions in
// session_replication_role = replica (the migrator's, where its role may:
// its relabels record their own changes; InstallCapture says why that is no
// bypass). It also keeps labels a phase
// cannot take out (new labels while expand runs, old ones once contract has
// started) and counts who writes labels of the set writers should no
// longer write.
#ifndef MIGRATOR_STATUS_ENUM_CAPTURE_H_
#define MIGRATOR_STATUS_ENUM_CAPTURE_H_

#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"

namespace booking::migrator {

void InstallCapture(Tx& tx, const StoreInfo& store);
void RemoveCapture(Tx& tx, const StoreInfo& store);
// Replaces the trigger's function with this migrator's, when the trigger is
// installed (a store expanded by an older migrator), and makes an ENABLE
// ALWAYS one ENABLE (origin) (a brief lock on the table, only then). True
// when it was installed.
bool RefreshCapture(Tx& tx, const StoreInfo& store);
bool CaptureInstalled(Tx& tx, const StoreInfo& store);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_CAPTURE_H_
