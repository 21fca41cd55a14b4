// The shapes suite's observations of a store: its catalog, its rows, and
// queries through its objects (probes) in each phase of the status change.
// A probe is SQL statements (';'-separated) run in a transaction that is
// rolled back; the last one answers. In probes, {LABEL} is the quoted list of
// labels meaning LABEL in the phase's label set, {w:LABEL} each of them in
// turn (every combination is run); in --@expect, {v:LABEL} is LABEL as the
// phase's rows hold it. migration_shapes_test.cc reads them from fixtures.
#ifndef TESTS_SUPPORT_SHAPES_H_
#define TESTS_SUPPORT_SHAPES_H_

#include <map>
#include <string>
#include <vector>

namespace booking::testing {

struct Probe {
  int line = 0;         // in the fixture
  std::string sql;      // the statements
  std::string same_as;  // answers as this query does on the original data,
  std::string expect;   // or answers this,
  std::string rejects;  // or fails with this SQLSTATE
};

// A fixture: base.sql's store with one kind of object (or several) added.
struct Shape {
  std::string name;
  std::vector<std::string> base_vars;  // psql variables for base.sql
  std::string schema = "public";       // the store's
  std::string owner;                   // fixture and migrator connect as (else a superuser)
  std::vector<std::string> refused;    // what expand must refuse, by name
  std::vector<std::string> remedies;   // and what it must tell the operator
  std::string fix_sql;                 // what then makes it carriable,
  std::string assume_handled;          // or the --assume-handled it then needs
  bool replay = false;                 // forward again after rolling back backfill
  std::vector<Probe> probes;
};

// Which labels the type has in a phase, and which ones its rows hold.
enum class LabelSet { kOld, kBoth, kNew };
struct PhaseLabels {
  LabelSet type = LabelSet::kOld;
  bool rows_new = false;
};

// The catalog of every user schema (the store's and any other), section by
// section: labels; relations, columns, types (owner, grants, options, row
// security, comments); definitions of columns, indexes, views, constraints,
// triggers, policies, rules; functions, statistics, comments.
using Catalog = std::map<std::string, std::string>;
Catalog CatalogOf(const std::string& url, const std::string& schema);
// The sections no phase may change (the migrator's own objects left out):
// names, owners, grants, options, comments, states of the user's objects.
Catalog KeptPart(const Catalog& catalog);
// Lines of the definitions naming an old-only label.
std::string OldLabelsIn(const Catalog& catalog);
// Migrator objects left anywhere, and a "Booking" or "BookingStatus" outside `schema`.
std::string StrayObjects(const std::string& url, const std::string& schema);
// Closes the connection these checks keep for `url` (before DROP DATABASE).
void ForgetConnection(const std::string& url);
// amcheck in its own schema (outside the store's), for IndexProblems.
void EnableIndexChecks(const std::string& url);
// Invalid indexes, and btree indexes amcheck finds inconsistent with their
// tables (every row a predicate admits must be in the index).
std::string IndexProblems(const std::string& url, const std::string& schema);

// Every row of every user table (not the migrator's own), as a digest per
// table; with `forward`, columns of the type mapped forward as backfill
// with the in-service rule "workStartedAt" IS NOT NULL maps them. Rows
// holding a string value that starts with `skip_rows_with` (when not empty)
// are left out.
std::map<std::string, std::string> RowDigests(const std::string& url, bool forward,
                                              const std::string& skip_rows_with = "");

// The references of `shape`'s --@same-as probes, on the original data.
std::vector<std::string> ReferenceAnswers(const std::string& url, const Shape& shape);
// Runs every probe of `shape`; one line per failure.
std::vector<std::string> ProbeFailures(const std::string& url, const Shape& shape,
                                       const std::vector<std::string>& references,
                                       PhaseLabels phase);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SHAPES_H_
