// The SQL of the history store's transparency-log step (0012): the Merkle
// tree's tiles, leaves, head and signed checkpoints. HistorySteps()
// (schema_steps.h) lists it.
#ifndef MIGRATOR_HISTORY_LOG_SCHEMA_H_
#define MIGRATOR_HISTORY_LOG_SCHEMA_H_

namespace booking::migrator {

extern const char kHistoryLogTree[];

}  // namespace booking::migrator

#endif  // MIGRATOR_HISTORY_LOG_SCHEMA_H_
