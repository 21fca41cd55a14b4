// The store generator: PRNG, names, roles, schemas, tables and rows; the
// objects on them are in store_fuzz_objects.cc and store_fuzz_refused.cc.
#include "tests/support/store_fuzz.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/support/store_fuzz_internal.h"

namespace booking::testing {

const std::vector<std::string>& OldLabels() {
  static const auto* labels =
      new std::vector<std::string>{"PENDING_PAYMENT",        "CONFIRMED",   "JOCKEY_ASSIGNED",
                                   "IN_TRANSIT_TO_WORKSHOP", "IN_WORKSHOP", "COMPLETED",
                                   "IN_TRANSIT_TO_CUSTOMER", "DELIVERED",   "CANCELLED"};
  return *labels;
}

const std::vector<std::string>& NewLabels() {
  static const auto* labels = new std::vector<std::string>{
      "PENDING_PAYMENT", "CONFIRMED",  "PICKUP_ASSIGNED",  "PICKED_UP",
      "AT_WORKSHOP",     "IN_SERVICE", "READY_FOR_RETURN", "RETURN_ASSIGNED",
      "RETURNED",        "DELIVERED",  "CANCELLED"};
  return *labels;
}

std::string StatusClass(const std::string& label) {
  static const auto* classes = new std::map<std::string, std::string>{
      {"PICKUP_ASSIGNED", "JOCKEY_ASSIGNED"}, {"PICKED_UP", "IN_TRANSIT_TO_WORKSHOP"},
      {"AT_WORKSHOP", "IN_WORKSHOP"},         {"IN_SERVICE", "IN_WORKSHOP"},
      {"READY_FOR_RETURN", "COMPLETED"},      {"RETURN_ASSIGNED", "IN_TRANSIT_TO_CUSTOMER"},
      {"RETURNED", "IN_TRANSIT_TO_CUSTOMER"}};
  auto it = classes->find(label);
  return it == classes->end() ? label : it->second;
}

namespace fuzz {
namespace {

constexpr int kReserved = 48;  // reserved rows per table ("wr-%08d"), 4 writer slots of 12

std::string LabelList() {
  std::vector<std::string> quoted;
  for (const std::string& l : OldLabels()) quoted.push_back(Literal(l));
  return absl::StrJoin(quoted, ", ");
}

void Roles(Builder& b) {
  const std::string p = absl::StrCat("fz", b.out.seed, "_");
  b.reader = p + "reader";
  b.viewer = p + "viewer";
  b.stranger = p + "stranger";
  b.out.writer_role = p + "writer";
  b.out.roles = {b.reader, b.viewer, b.stranger, b.out.writer_role};
  std::string sql =
      absl::StrCat("CREATE ROLE ", b.reader, "; CREATE ROLE ", b.viewer, " BYPASSRLS; CREATE ROLE ",
                   b.stranger, " BYPASSRLS; CREATE ROLE ", b.out.writer_role, " LOGIN SUPERUSER; ");
  if (b.rng.Percent(50)) {
    b.out.migrator_role = b.owner = p + "owner";
    b.out.roles.push_back(b.owner);
    // Allowed to keep user triggers from firing on its own writes, and to
    // recreate the views it shares ownership of through membership.
    absl::StrAppend(&sql, "CREATE ROLE ", b.owner, " LOGIN; GRANT SET ON PARAMETER ",
                    "session_replication_role TO ", b.owner, "; GRANT ", b.viewer, " TO ", b.owner,
                    "; ");
  }
  b.out.roles_sql = sql;
}

void Schemas(Builder& b) {
  const bool in_public = b.rng.Percent(50);
  b.out.schema = in_public ? "public" : b.Name("store");
  b.schemas = {b.out.schema};
  for (int n = b.rng.Below(3); n > 0; --n) b.schemas.push_back(b.Name("reports"));
  b.Raw("SET client_encoding = 'UTF8';\nSET client_min_messages = warning;\n");
  if (b.Owned()) {
    b.Raw("SELECT current_database() AS fz_db \\gset\n");
    b.Sql("ALTER DATABASE :\"fz_db\" OWNER TO " + b.owner);
  }
  for (size_t i = 0; i < b.schemas.size(); ++i) {
    const std::string s = Quote(b.schemas[i]);
    if (i > 0 || !in_public) {
      b.Sql(absl::StrCat("CREATE SCHEMA ", s, b.Owned() ? " AUTHORIZATION " + b.owner : ""));
    }
    b.Sql(absl::StrCat("GRANT USAGE ON SCHEMA ", s, " TO ", b.reader, ", ", b.viewer));
    b.Sql(absl::StrCat("GRANT CREATE ON SCHEMA ", s, " TO ", b.viewer));
  }
  b.Sql(absl::StrCat("SET search_path = ", Quote(b.out.schema), ", public"));
  if (b.Owned()) b.Sql("SET ROLE " + b.owner);
  absl::StrAppend(&b.out.roles_sql, "ALTER ROLE ", b.out.writer_role,
                  " SET search_path = ", Quote(b.out.schema), ", public;");
}

std::vector<TypeCol> TypeCols(Builder& b, int n, int first_shift) {
  std::vector<TypeCol> cols;
  if (n == 2 && b.rng.Percent(40)) {
    auto [x, y] = b.NamePair("status");
    cols = {{x, 0, false, ""}, {y, 0, false, ""}};
  } else {
    for (int i = 0; i < n; ++i) cols.push_back({b.Name("status"), 0, false, ""});
  }
  for (TypeCol& c : cols) {
    c.shift = first_shift + b.rng.Below(8);
    c.nullable = b.rng.Percent(50);
    if (b.rng.Percent(50)) c.default_label = OldLabels()[b.RandomLabel(false)];
  }
  return cols;
}

std::string ColumnDefs(const Table& t, const std::string& type) {
  std::string defs;
  for (const TypeCol& c : t.cols) {
    if (t.booking && c.name == "status") continue;
    absl::StrAppend(&defs, ",\n  ", Quote(c.name), " ", type, c.nullable ? "" : " NOT NULL",
                    c.default_label.empty() ? "" : " DEFAULT " + Literal(c.default_label));
  }
  return defs;
}

void CreateTable(Builder& b, Table& t, const std::string& fixed) {
  const std::string type = Quote(b.out.schema) + ".\"BookingStatus\"";
  b.Sql(absl::StrCat("CREATE TABLE ", t.Q(), " (\n  ", fixed, ColumnDefs(t, type), "\n)",
                     t.partitioned ? " PARTITION BY HASH (id)" : ""));
  const int parts = 2 + b.rng.Below(2);
  for (int i = 0; t.partitioned && i < parts; ++i) {
    b.Sql(absl::StrFormat(
        "CREATE TABLE %s.%s PARTITION OF %s FOR VALUES WITH (MODULUS %d, "
        "REMAINDER %d)",
        Quote(t.schema), Quote(t.parts.emplace_back(b.Name("part"))), t.Q(), parts, i));
  }
  b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ADD ",
                     t.booking ? "CONSTRAINT \"Booking_pkey\" " : "", "PRIMARY KEY (id)"));
  b.Sql(absl::StrCat("GRANT SELECT ON ", t.Q(), " TO ", b.viewer));  // owns views over it
}

std::string Values(const Builder& b, const Table& t, bool reserved) {
  std::string v;
  for (const TypeCol& c : t.cols) {
    std::string label =
        absl::StrFormat("(enum_range(NULL::%s.\"BookingStatus\"))[1 + (i + %d) %% 9]",
                        Quote(b.out.schema), c.shift);
    if (c.nullable && !reserved)
      label = absl::StrCat("CASE WHEN i % 7 = 3 THEN NULL ELSE ", label, " END");
    absl::StrAppend(&v, ", ", label);
  }
  return v;
}

void Insert(Builder& b, const Table& t) {
  std::string cols;
  for (const TypeCol& c : t.cols) absl::StrAppend(&cols, ", ", Quote(c.name));
  const std::string series[] = {absl::StrCat("generate_series(1, ", b.rows, ")"),
                                absl::StrCat("generate_series(1, ", kReserved, ")")};
  for (int reserved = 0; reserved < 2; ++reserved) {
    const std::string id =
        reserved ? "'wr-' || lpad(i::text, 8, '0')" : "'bk-' || lpad(i::text, 8, '0')";
    if (t.booking) {
      b.Sql(absl::StrCat(
          "INSERT INTO ", t.Q(), " (id, \"customerId\"", cols,
          ", \"totalPrice\", \"workStartedAt\", \"createdAt\", \"updatedAt\")\nSELECT ", id, ", ",
          reserved ? "'wr-customer-' || i" : absl::StrCat("'customer-' || (i % ", b.customers, ")"),
          Values(b, t, reserved), ", ", reserved ? "1000" : "1000 + i % 500", ", ",
          reserved ? "NULL"
                   : "CASE WHEN i % 9 = 4 AND i % 2 = 0 THEN timestamp '2026-01-01' + i * interval "
                     "'1 minute' END",
          ", timestamp '2026-01-01' + i * interval '1 minute', timestamp '2026-01-02 00:00:00.123' "
          "+ "
          "i * interval '1 minute 1.001 second'\nFROM ",
          series[reserved], " AS i"));
    } else {
      b.Sql(absl::StrCat("INSERT INTO ", t.Q(), " (id, \"bookingId\", weight", cols, ")\nSELECT ",
                         reserved ? id : "'ot-' || lpad(i::text, 8, '0')", ", ", id, ", ",
                         reserved ? "0" : "i % 500", Values(b, t, reserved), "\nFROM ",
                         series[reserved], " AS i"));
    }
  }
}

Table NewTable(Builder& b, const std::string& name, bool booking, std::vector<TypeCol> cols) {
  Table t;
  t.schema = b.out.schema;
  t.name = name;
  t.booking = booking;
  t.partitioned = b.rng.Percent(30);
  t.key = booking ? "customerId" : "bookingId";
  t.escape = booking ? "totalPrice" : "weight";
  t.cols = std::move(cols);
  return t;
}

void Tables(Builder& b) {
  const std::string type = Quote(b.out.schema) + ".\"BookingStatus\"";
  b.Sql(absl::StrCat("CREATE TYPE ", type, " AS ENUM (", LabelList(), ")"));
  std::vector<TypeCol> cols = {{"status", 0, false, "PENDING_PAYMENT"}};
  for (TypeCol& c : TypeCols(b, b.rng.Below(3), 1)) cols.push_back(c);
  b.tables.push_back(NewTable(b, "Booking", true, cols));
  CreateTable(b, b.tables.back(),
              absl::StrCat("id TEXT NOT NULL,\n  \"customerId\" TEXT NOT NULL,\n  status ", type,
                           " NOT NULL DEFAULT 'PENDING_PAYMENT',\n  \"totalPrice\" INTEGER NOT "
                           "NULL DEFAULT 0,\n  \"workStartedAt\" TIMESTAMP(3),\n  \"createdAt\" "
                           "TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n  \"updatedAt\" "
                           "TIMESTAMP(3) NOT NULL"));
  std::vector<std::string> names;
  if (b.rng.Percent(30)) {
    auto [x, y] = b.NamePair("Task");  // <table>_<column>__next_sync must not collide
    names = {x, y};
  }
  for (int n = b.rng.Below(3); n > 0; --n) {
    const std::string name = names.empty() ? b.Name("Task") : names[n - 1];
    b.tables.push_back(NewTable(b, name, false, TypeCols(b, 1 + b.rng.Below(2), 0)));
    CreateTable(b, b.tables.back(),
                "id TEXT NOT NULL,\n  \"bookingId\" TEXT NOT NULL,\n  weight INTEGER NOT NULL "
                "DEFAULT 0");
  }
  for (const Table& t : b.tables) Insert(b, t);
}

std::string Describe(const Table& t) {
  std::vector<std::string> cols;
  for (const TypeCol& c : t.cols) {
    cols.push_back(absl::StrCat(Quote(Short(c.name)), c.nullable ? "" : " not null",
                                c.default_label.empty() ? "" : " default " + c.default_label));
  }
  return absl::StrCat(Quote(Short(t.name)), t.partitioned ? " (hash-partitioned)" : "", " [",
                      absl::StrJoin(cols, ", "), "]");
}

void Columns(Builder& b) {
  for (const Table& t : b.tables) {
    for (const TypeCol& c : t.cols) {
      TypeColumn col{t.Q(),
                     Quote(c.name),
                     Short(t.name) + "." + Short(c.name),
                     t.booking && c.name == "status",
                     {}};
      for (int i = 1; i <= kReserved; ++i) col.initial.push_back(OldLabels()[(i + c.shift) % 9]);
      b.out.columns.push_back(col);
    }
  }
  b.out.reserved_rows = kReserved;
}

}  // namespace

}  // namespace fuzz

GeneratedStore Generate(uint64_t seed, const GeneratorOptions& options) {
  fuzz::Builder b(seed, options);
  b.out.ordering_probes = options.known_defects;
  fuzz::Roles(b);
  fuzz::Schemas(b);
  b.rows = 9 * (150 + b.rng.Below(201));  // a few hundred rows in every label
  b.customers = b.rows / 3 + 1;
  while (b.customers % 3 == 0) ++b.customers;  // a customer holds each label at most once
  fuzz::Tables(b);
  for (const fuzz::Table& t : b.tables) b.Note("", fuzz::Describe(t));
  for (fuzz::Table& t : b.tables) {
    fuzz::AddIndexes(b, t);
    fuzz::AddViews(b, t);
    fuzz::AddChecks(b, t);
    fuzz::AddTriggers(b, t);
    fuzz::AddPolicies(b, t);
    fuzz::AddRules(b, t);
    fuzz::AddColumnDetails(b, t);
    fuzz::AddDefaultProbes(b, t);
  }
  if (options.refused && b.rng.Percent(40)) fuzz::AddRefused(b);
  for (const fuzz::Table& t : b.tables) b.Sql("ANALYZE " + t.Q());
  fuzz::Columns(b);
  GeneratedStore out = b.out;
  out.sql = b.sql();
  out.description = b.Finish();
  out.details = b.details();
  return out;
}

}  // namespace booking::testing
