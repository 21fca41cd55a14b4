// The schema fuzzer's checks (tests/migration_fuzz_test.cc): each returns
// what failed, one precise line each, so that a deliberately broken
// expectation can be shown to fail too.
#ifndef TESTS_SUPPORT_FUZZ_CHECKS_H_
#define TESTS_SUPPORT_FUZZ_CHECKS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/shapes.h"
#include "tests/support/store_fuzz.h"

namespace booking::testing {

// One refused object as the migrator printed it: "kind name", and whether a
// reason and what to do came with it.
struct PrintedRefusal {
  std::string head;
  bool reason = false, remedy = false;
};
// From `migrator plan` (REFUSED blocks), `plan --json` (objects with a
// refusal; `error` says when there is no plan object) and `expand` (its
// "kind name: why. What to do: ..." list).
std::vector<PrintedRefusal> TextPlanRefusals(const std::string& output);
std::vector<PrintedRefusal> JsonPlanRefusals(const std::string& output, std::string* error);
std::vector<PrintedRefusal> ExpandRefusals(const std::string& output);

// Every expected refusal printed with a reason and what to do (`store.refused`),
// and nothing refused that is neither expected nor allowed (`may_refuse`).
std::vector<std::string> RefusalFailures(const std::string& command,
                                         const std::vector<PrintedRefusal>& printed,
                                         const GeneratedStore& store);

// Ad-hoc ordering queries on "Booking" (reserved rows left out): count below
// DELIVERED, ids in ORDER BY status, id grouped by status class, the class
// of max(status). The same in every phase.
std::string OrderingAnswers(const std::string& url, const std::string& schema);

// The label every reserved cell holds: (index into store.columns, id) -> label.
using Cells = std::map<std::pair<size_t, std::string>, std::string>;
Cells ReservedCells(const std::string& url, const GeneratedStore& store);
// Cells whose label is not of the status class of `expected` (the last
// committed write, else the initial label).
std::vector<std::string> CellFailures(const Cells& now, const Cells& expected,
                                      const GeneratedStore& store);

// Tables whose digest differs from `expected`.
std::vector<std::string> DigestFailures(const std::map<std::string, std::string>& now,
                                        const std::map<std::string, std::string>& expected);
// Lines missing (-) or added (+) per section against `expected`.
std::vector<std::string> CatalogFailures(const Catalog& now, const Catalog& expected);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_FUZZ_CHECKS_H_
