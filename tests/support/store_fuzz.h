// A seeded generator of production-like booking stores for the schema fuzzer
// (tests/migration_fuzz_test.cc): the seed's Prisma shape with the OLD status
// labels, a few hundred rows in every label, and a random combination of the
// objects that grow around such a store. Each object is either one the
// migrator must carry through every phase (indexes, views, checks, triggers,
// policies, rules, column details, defaults, other tables and schemas) or one
// its plan must refuse (row types, arrays, domains, text uses of the type,
// BEGIN ATOMIC bodies, ...): the generator's declaration is the expectation.
//
// The generator has its own PRNG (splitmix64) and no std distributions, so a
// seed builds the same store on any machine.
#ifndef TESTS_SUPPORT_STORE_FUZZ_H_
#define TESTS_SUPPORT_STORE_FUZZ_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/shapes.h"

namespace booking::testing {

// An object the plan must refuse: one refused object's kind and name (as
// `plan` prints them) contains every fragment.
struct ExpectedRefusal {
  std::string kind;                    // for messages, e.g. "array column"
  std::vector<std::string> fragments;  // raw names (no quoting)
};

// A column of the status type and its reserved rows (ids "wr-%08d", 1..n),
// which the writers change while the phases run.
struct TypeColumn {
  std::string table;   // SQL, schema-qualified
  std::string column;  // SQL, quoted
  std::string label;   // for messages
  bool booking_status = false;
  std::vector<std::string> initial;  // reserved row i's label at i - 1
};

struct GeneratorOptions {
  bool refused = true;        // may add objects the plan must refuse
  bool known_defects = true;  // may add what today's migrator is known to get wrong
};

struct GeneratedStore {
  uint64_t seed = 0;
  std::string roles_sql;                 // first, as a superuser (roles are the cluster's)
  std::string sql;                       // then with psql, as a superuser, in the store's database
  std::string schema;                    // the store's, raw
  std::string migrator_role;             // empty: a superuser
  std::string writer_role;               // a superuser whose search_path finds the store
  std::vector<std::string> roles;        // every role roles_sql made (dropped afterwards)
  std::vector<Probe> probes;             // placeholders as in shapes.h; reserved rows left out
  std::vector<ExpectedRefusal> refused;  // empty: every object must be carried
  // Objects the plan may refuse besides (they use a refused one).
  std::vector<ExpectedRefusal> may_refuse;
  bool row_type_column = false;  // `up` may refuse, naming it
  // Ordering queries on "Booking" answer the same in every phase (today's
  // migrator adds the new labels after CANCELLED: off without known_defects).
  bool ordering_probes = true;
  std::vector<TypeColumn> columns;  // every column of the type; "Booking".status first
  int reserved_rows = 0;
  std::string description;           // one line: where, how big, how many of each kind
  std::vector<std::string> details;  // one line per object
};

GeneratedStore Generate(uint64_t seed, const GeneratorOptions& options = {});

// Labels and their status classes (an old label and the new ones meaning it).
const std::vector<std::string>& OldLabels();
const std::vector<std::string>& NewLabels();
std::string StatusClass(const std::string& label);  // the class's old label

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_STORE_FUZZ_H_
