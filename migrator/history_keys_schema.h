// The SQL of the history store's global-keys step (0014): each event id and
// each booking's head kept in tables of their own, so that they stay
// unique and found in one probe once "BookingStatusHistory" is partitioned
// by time (a partition's unique indexes hold within it only). HistorySteps()
// (schema_steps.h) lists it.
#ifndef MIGRATOR_HISTORY_KEYS_SCHEMA_H_
#define MIGRATOR_HISTORY_KEYS_SCHEMA_H_

namespace booking::migrator {

extern const char kHistoryKeys[];

}  // namespace booking::migrator

#endif  // MIGRATOR_HISTORY_KEYS_SCHEMA_H_
