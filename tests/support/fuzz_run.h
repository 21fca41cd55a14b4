// One generated store (store_fuzz.h) through the migrator, for the schema
// fuzzer: loaded into a database of its own, `up`, then refused with nothing
// changed, or carried through every phase and rollback while writers change
// its reserved rows, checked after each step. The database and the store's
// roles are dropped afterwards (KEEP_FUZZ_DB=1 keeps them).
#ifndef TESTS_SUPPORT_FUZZ_RUN_H_
#define TESTS_SUPPORT_FUZZ_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/pg_cluster.h"
#include "tests/support/store_fuzz.h"

namespace booking::testing {

struct FuzzOutcome {
  enum Kind { kCarried, kRefused, kRefusedAtUp, kNotRun } kind = kNotRun;
  std::vector<std::string> failures;  // what broke, one entry each
  int64_t writes = 0;                 // writes committed by the writers
  int64_t cells = 0;                  // reserved cells checked against their last write
};

FuzzOutcome RunFuzzStore(PgCluster& pg, const GeneratedStore& store);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_FUZZ_RUN_H_
