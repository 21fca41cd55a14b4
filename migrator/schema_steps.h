// The ordered schema steps of each store. An applied step is never edited:
// its checksum is in the store's ledger and a changed step is refused. New
// schema changes are new steps at the end.
#ifndef MIGRATOR_SCHEMA_STEPS_H_
#define MIGRATOR_SCHEMA_STEPS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace booking::migrator {

enum class StoreKind { kBooking, kHistory };

absl::string_view StoreName(StoreKind store);  // "booking" / "history"

struct Step {
  std::string id;  // "0001_booking_base": sorts in order of application
  std::string description;
  std::string sql;  // runs in one transaction with its ledger record
  // Indexes built first, each with CREATE INDEX CONCURRENTLY outside any
  // transaction (writers go on meanwhile): name -> "ON table (columns)". A
  // build an interrupted run left invalid is dropped and built again.
  std::vector<std::pair<std::string, std::string>> concurrent_indexes = {};
};

const std::vector<Step>& StepsFor(StoreKind store);
// The history store's (history_schema_steps.cc); StepsFor(kHistory).
const std::vector<Step>& HistorySteps();

// SHA-256 of the step's SQL, hex.
std::string Checksum(const Step& step);

}  // namespace booking::migrator

#endif  // MIGRATOR_SCHEMA_STEPS_H_
