// The migrator command an operator is told to run next ("next: run ..."),
// as one line bash reads back word for word (common/shell_quote.h): the
// command and the options of this run that it uses and that differ from
// their defaults (--in-service-rule only for backfill, --force only for
// contract, ...; never --dry-run, never a database URL: those come from the
// environment or the operator's own command line). Pure.
#ifndef MIGRATOR_STATUS_ENUM_NEXT_COMMAND_H_
#define MIGRATOR_STATUS_ENUM_NEXT_COMMAND_H_

#include <string>
#include <vector>

#include "migrator/status_enum/context.h"

namespace booking::migrator {

// "migrator", `command` (e.g. "backfill", or "rollback" and its phase as
// two words) and one word per option, e.g. --in-service-rule=<rule>.
std::vector<std::string> NextCommandWords(const std::vector<std::string>& command,
                                          const PhaseOptions& options);

// NextCommandWords, shell-quoted and joined.
std::string NextCommand(const std::vector<std::string>& command, const PhaseOptions& options);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_NEXT_COMMAND_H_
