// The store generator's parts (store_fuzz*.cc): its PRNG, names, the tables
// it built, and the SQL, probes and declarations it collects.
#ifndef TESTS_SUPPORT_STORE_FUZZ_INTERNAL_H_
#define TESTS_SUPPORT_STORE_FUZZ_INTERNAL_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/store_fuzz.h"

namespace booking::testing::fuzz {

// splitmix64: the same numbers on every machine and compiler.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  int Below(int n);  // [0, n)
  bool Percent(int p) { return Below(100) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(static_cast<int>(v.size()))];
  }

 private:
  uint64_t state_;
};

std::string Quote(const std::string& raw);     // "raw" (names never hold '"')
std::string Literal(const std::string& text);  // 'text'
std::string Short(const std::string& raw);     // for the description

// A column of the type: row i holds OldLabels()[(i + shift) % 9].
struct TypeCol {
  std::string name;  // raw
  int shift = 0;
  bool nullable = false;      // NULL on rows i % 7 == 3 (never on reserved rows)
  std::string default_label;  // empty: none
};

struct Table {
  std::string schema, name;  // raw
  bool booking = false;
  bool partitioned = false;
  bool rls = false;
  std::string key;            // raw: unique per label ("customerId", "bookingId")
  std::string escape;         // raw integer column CHECKs may name ("totalPrice", "weight")
  std::vector<TypeCol> cols;  // "Booking": status first
  std::vector<std::string> parts;  // partitions, raw
  std::string Q() const { return Quote(schema) + "." + Quote(name); }
};

// A condition on a column naming labels: its SQL, the same with the
// placeholders of shapes.h (for probes), and which old labels it admits.
struct Cond {
  std::string sql, probe, what;
  std::set<int> admits;  // indexes into OldLabels()
};

class Builder {
 public:
  Builder(uint64_t seed, const GeneratorOptions& options);

  Rng rng;
  GeneratorOptions options;
  GeneratedStore out;
  std::vector<Table> tables;             // [0] is "Booking"
  std::vector<std::string> schemas;      // the store's, then others views may live in
  std::string owner;                     // the role owning the store (migrator's or superuser)
  std::string reader, viewer, stranger;  // other roles
  int rows = 0, customers = 0;

  // A new name of random length (up to 63 bytes, quoting needed), unique.
  std::string Name(const std::string& hint);
  // Two names sharing a prefix of 55 bytes or more (plain ones without known_defects).
  std::pair<std::string, std::string> NamePair(const std::string& hint);
  bool Owned() const { return !out.migrator_role.empty(); }

  void Raw(const std::string& text);       // psql text as is
  void Sql(const std::string& statement);  // as the store's owner
  void AsSuperuser(const std::string& statement);
  // One line of the details; `kind` (empty: none) is counted in the description.
  void Note(const std::string& kind, const std::string& what) { notes_.push_back({kind, what}); }
  void Refuse(const std::string& kind, std::vector<std::string> fragments);
  void AddProbe(const std::string& sql, const std::string& same_as, const std::string& expect,
                const std::string& rejects = "");

  // A condition on `column` (SQL) of one of the forms carried objects use.
  Cond RandomCond(const std::string& column, bool text_forms);
  int RandomLabel(bool renamed_only);
  // A row (not reserved) whose `col` holds label `label`: its id and key.
  std::pair<std::string, std::string> RowWith(const Table& t, const TypeCol& col, int label) const;
  // INSERT of a fresh row `id` with `values` (raw column -> SQL) and the
  // table's other required columns; its key is unique.
  std::string Insert(const Table& t, const std::string& id,
                     const std::map<std::string, std::string>& values) const;
  const std::string& LogTable();     // ("bookingId", kind), made on first use
  const std::string& LogFunction();  // a trigger function logging NEW.id, TG_ARGV[0]
  std::string Fresh(const std::string& what) {
    return "pr-" + what + "-" + std::to_string(++fresh_);
  }
  int NextEscape() { return 7000 + ++escapes_; }

  std::string Finish();  // the description
  std::vector<std::string> details() const;
  const std::string& sql() const { return sql_; }

 private:
  std::string RandomName(const std::string& hint, int max_bytes);
  std::string sql_;
  std::vector<std::pair<std::string, std::string>> notes_;  // kind, what
  std::set<std::string> used_;
  std::string log_table_, log_function_;
  int fresh_ = 0, escapes_ = 0;
};

// store_fuzz_objects.cc: what must be carried.
void AddIndexes(Builder& b, Table& t);
void AddViews(Builder& b, Table& t);
void AddChecks(Builder& b, Table& t);
void AddTriggers(Builder& b, Table& t);
void AddPolicies(Builder& b, Table& t);
void AddRules(Builder& b, Table& t);
void AddColumnDetails(Builder& b, Table& t);
void AddDefaultProbes(Builder& b, const Table& t);

// store_fuzz_refused.cc: what must be refused (1 to 3 kinds).
void AddRefused(Builder& b);

}  // namespace booking::testing::fuzz

#endif  // TESTS_SUPPORT_STORE_FUZZ_INTERNAL_H_
