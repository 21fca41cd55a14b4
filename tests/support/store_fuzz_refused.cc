// What the store generator adds that the migrator's plan must refuse (by
// name, with a reason and what to do), leaving the store as it was.
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "tests/support/store_fuzz_internal.h"

namespace booking::testing::fuzz {
namespace {

struct Target {
  const Table* table;
  const TypeCol* col;
  std::string column;  // SQL
};

Target Pick(Builder& b) {
  const Table& t = b.rng.Pick(b.tables);
  const TypeCol& c = t.cols[b.rng.Below(static_cast<int>(t.cols.size()))];
  return {&t, &c, Quote(c.name)};
}

std::string Type(const Builder& b) { return Quote(b.out.schema) + ".\"BookingStatus\""; }
std::string InStore(const Builder& b, const std::string& raw) {
  return Quote(b.out.schema) + "." + Quote(raw);
}

// A view over the target selecting `select` WHERE `where`.
std::string View(Builder& b, const Target& t, const std::string& select, const std::string& where,
                 const std::string& kind) {
  const std::string name = b.Name("view");
  b.Sql(absl::StrCat("CREATE VIEW ", InStore(b, name), " AS SELECT ", select, " FROM ",
                     t.table->Q(), where.empty() ? "" : " WHERE " + where));
  b.Refuse(kind + " in a view", {name});
  return name;
}

// A refused column's default and its partitions' columns may be refused
// with it (its name is unique).
void AlsoItsParts(Builder& b, const std::string& column) {
  b.out.may_refuse.push_back({"the same column, its default or partitions", {column}});
}

void RowTypeColumn(Builder& b) {
  const Table& of = b.rng.Pick(b.tables);
  const std::string table = b.Name("audit"), column = b.Name("old");
  b.Sql(absl::StrCat("CREATE TABLE ", InStore(b, table), " (id TEXT PRIMARY KEY, ", Quote(column),
                     " ", of.Q(), ")"));
  b.Sql(absl::StrCat("INSERT INTO ", InStore(b, table), " SELECT 'au-' || t.id, t FROM ", of.Q(),
                     " t WHERE t.id NOT LIKE 'wr-%' ORDER BY t.id LIMIT 5"));
  b.Refuse("row-type column (of " + of.name + ")", {table, column});
  b.out.row_type_column = true;
}

void ArrayColumn(Builder& b) {
  const Target t = Pick(b);
  const std::string column = b.Name("trail");
  b.Sql(absl::StrCat("ALTER TABLE ", t.table->Q(), " ADD COLUMN ", Quote(column), " ", Type(b),
                     "[] NOT NULL DEFAULT '{}'"));
  b.Refuse("array column", {t.table->name, column});
  AlsoItsParts(b, column);
}

void Domain(Builder& b) {
  const std::string domain = b.Name("domain");
  b.Sql(absl::StrCat("CREATE DOMAIN ", InStore(b, domain), " AS ", Type(b),
                     " CHECK (VALUE <> 'CANCELLED')"));
  b.Refuse("domain", {domain});
  if (b.rng.Percent(50)) {
    const Table& t = b.rng.Pick(b.tables);
    const std::string column = b.Name("dom");
    b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ADD COLUMN ", Quote(column), " ",
                       InStore(b, domain)));
    b.out.may_refuse.push_back({"column of the domain", {t.name, column}});
    AlsoItsParts(b, column);
  }
}

void Composite(Builder& b) {
  const std::string type = b.Name("pair");
  b.Sql(absl::StrCat("CREATE TYPE ", InStore(b, type), " AS (\"from\" ", Type(b), ", note TEXT)"));
  b.Refuse("composite type", {type});
}

void TextUse(Builder& b) {
  const Target t = Pick(b);
  const std::string c = t.column;
  const std::vector<std::string> uses = {c + "::text LIKE 'IN\\_%'", c + "::text ~ '^IN_'",
                                         "substring(" + c + "::text from 1 for 3) = 'IN_'",
                                         c + "::text || '!' = 'IN_WORKSHOP!'",
                                         "length(" + c + "::text) > 9"};
  const std::string use = b.rng.Pick(uses);
  if (b.rng.Percent(50)) {
    View(b, t, "id", use, "text use (" + use + ")");
    return;
  }
  const std::string name = b.Name("check");
  b.Sql(absl::StrCat("ALTER TABLE ", t.table->Q(), " ADD CONSTRAINT ", Quote(name), " CHECK ((",
                     use, ") OR ", Quote(t.table->escape), " <> ", b.NextEscape(), ")"));
  b.Refuse("text use (" + use + ") in a check", {name});
}

void Ordering(Builder& b) {
  const Target t = Pick(b);
  static const std::vector<std::string> ops = {" < 'DELIVERED'", " >= 'IN_WORKSHOP'",
                                               " BETWEEN 'CONFIRMED' AND 'COMPLETED'"};
  View(b, t, "id", t.column + b.rng.Pick(ops), "ordering comparison");
}

void SimpleCase(Builder& b) {
  const Target t = Pick(b);
  View(b, t, "id, CASE " + t.column + " WHEN 'IN_WORKSHOP' THEN 'w' ELSE 'o' END AS stage", "",
       "simple CASE");
}

void IsDistinct(Builder& b) {
  const Target t = Pick(b);
  View(b, t, "id",
       t.column + (b.rng.Percent(50) ? " IS DISTINCT FROM" : " IS NOT DISTINCT FROM") +
           " 'IN_WORKSHOP'",
       "IS DISTINCT FROM");
}

// A function whose body names an old label, used by a view as f(col::text).
void FunctionBody(Builder& b, bool atomic) {
  const Target t = Pick(b);
  const std::string fn = b.Name("stage");
  const std::string body =
      atomic ? "LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT CASE WHEN s = 'IN_WORKSHOP' THEN "
               "'workshop' ELSE 'other' END; END"
             : "LANGUAGE plpgsql IMMUTABLE AS $$\nBEGIN\n  IF s = 'IN_WORKSHOP' THEN\n    RETURN "
               "'workshop';\n  END IF;\n  RETURN 'other';\nEND\n$$";
  b.Sql(absl::StrCat("CREATE FUNCTION ", InStore(b, fn), "(s text) RETURNS text ", body));
  b.Refuse(atomic ? "BEGIN ATOMIC function naming a label" : "$$ function naming a label", {fn});
  if (!atomic && b.rng.Percent(50)) return;
  const std::string view = b.Name("view");
  b.Sql(absl::StrCat("CREATE VIEW ", InStore(b, view), " AS SELECT id, ", InStore(b, fn), "(",
                     t.column, "::text) AS stage FROM ", t.table->Q()));
  b.out.may_refuse.push_back({"view using the function", {view}});
}

void CaseDefault(Builder& b) {
  const Table& t = b.rng.Pick(b.tables);
  const std::string column = b.Name("next");
  b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ADD COLUMN ", Quote(column), " ", Type(b),
                     " DEFAULT (CASE WHEN current_setting('app.kind', true) = 'w' THEN "
                     "'IN_WORKSHOP' ELSE 'CONFIRMED' END)::",
                     Type(b)));
  b.Refuse("default computing the type from text", {t.name, column});
  AlsoItsParts(b, column);
}

void MaterializedView(Builder& b) {
  const Target t = Pick(b);
  const std::string name = b.Name("counts");
  b.Sql(absl::StrCat("CREATE MATERIALIZED VIEW ", InStore(b, name), " AS SELECT ", t.column,
                     ", count(*) AS n FROM ", t.table->Q(), " GROUP BY 1"));
  b.Refuse("materialized view", {name});
}

void Generated(Builder& b) {
  const Target t = Pick(b);
  const std::string column = b.Name("flag");
  b.Sql(absl::StrCat("ALTER TABLE ", t.table->Q(), " ADD COLUMN ", Quote(column),
                     " BOOLEAN GENERATED ALWAYS AS (", t.column, " = 'IN_WORKSHOP') STORED"));
  b.Refuse("stored generated column", {t.table->name, column});
  AlsoItsParts(b, column);
}

void Statistics(Builder& b) {
  const Target t = Pick(b);
  const std::string name = b.Name("stats");
  b.Sql(absl::StrCat("CREATE STATISTICS ", InStore(b, name), " ON ", t.column, ", ",
                     Quote(t.table->key), " FROM ", t.table->Q()));
  b.Refuse("extended statistics", {name});
}

void UniqueKey(Builder& b) {
  const Target t = Pick(b);
  for (const std::string& part : t.table->parts) {
    b.out.may_refuse.push_back({"the unique key of a partition", {part}});
  }
  const std::string name = b.Name("key");
  // A partitioned table's unique keys hold its partition key (id).
  const std::string first = t.table->partitioned ? "id" : Quote(t.table->key);
  if (b.rng.Percent(50)) {
    b.Sql(absl::StrCat("CREATE UNIQUE INDEX ", Quote(name), " ON ", t.table->Q(), " (", first, ", ",
                       t.column, ")"));
    b.Refuse("unique index keyed on the type", {name});
  } else {
    b.Sql(absl::StrCat("ALTER TABLE ", t.table->Q(), " ADD CONSTRAINT ", Quote(name), " UNIQUE (",
                       first, ", ", t.column, ")"));
    b.Refuse("unique constraint keyed on the type", {name});
  }
}

void NewLabelAlone(Builder& b) {
  const Target t = Pick(b);
  static const std::vector<std::string> uses = {
      "::text = 'IN_SERVICE'", "::text = 'AT_WORKSHOP'", "::text IN ('PICKUP_ASSIGNED')",
      "::text = 'RETURNED'", "::text IN ('READY_FOR_RETURN', 'DELIVERED')"};
  const std::string use = b.rng.Pick(uses);
  View(b, t, "id", t.column + use, "text comparison naming a new label alone (" + use + ")");
}

// Only when the migrator is not a superuser: objects it may not change.
void Privileges(Builder& b) {
  const Target t = Pick(b);
  const bool hidden = b.rng.Percent(50), table = b.rng.Percent(40), grant = b.rng.Percent(50);
  std::string schema = b.out.schema;
  if (hidden) {
    schema = b.Name("restricted");
    b.AsSuperuser("CREATE SCHEMA " + Quote(schema));
  }
  const std::string name = b.Name(table ? "copy" : "view"), q = Quote(schema) + "." + Quote(name);
  const std::string sql =
      table ? absl::StrCat("CREATE TABLE ", q, " (id TEXT PRIMARY KEY, s ", Type(b), ")")
            : absl::StrCat("CREATE VIEW ", q, " AS SELECT id FROM ", t.table->Q(), " WHERE ",
                           t.column, " = 'IN_WORKSHOP'");
  const std::string owner = hidden ? b.owner : b.stranger;
  b.AsSuperuser(absl::StrCat(sql, "; ALTER ", table ? "TABLE " : "VIEW ", q, " OWNER TO ", owner,
                             grant && !hidden ? "; GRANT ALL ON " + q + " TO " + b.owner : ""));
  b.Refuse(absl::StrCat(table ? "table" : "view",
                        hidden ? " in a schema without USAGE" : " of a role not the migrator's",
                        grant && !hidden ? " (granted ALL)" : ""),
           {name});
}

}  // namespace

void AddRefused(Builder& b) {
  const std::vector<std::function<void(Builder&)>> kinds = {
      RowTypeColumn,
      ArrayColumn,
      Domain,
      Composite,
      TextUse,
      Ordering,
      SimpleCase,
      IsDistinct,
      [](Builder& x) { FunctionBody(x, true); },
      [](Builder& x) { FunctionBody(x, false); },
      CaseDefault,
      MaterializedView,
      Generated,
      Statistics,
      UniqueKey,
      NewLabelAlone,
      Privileges};
  const size_t n = 1 + b.rng.Below(3);
  std::vector<int> chosen;
  // Privileges only matter to a migrator that is not a superuser: often then.
  if (b.Owned() && b.rng.Percent(35)) chosen.push_back(static_cast<int>(kinds.size()) - 1);
  while (chosen.size() < n) {
    const int k = b.rng.Below(static_cast<int>(kinds.size()));
    const bool usable = k != static_cast<int>(kinds.size()) - 1 || b.Owned();
    if (usable && std::find(chosen.begin(), chosen.end(), k) == chosen.end()) chosen.push_back(k);
  }
  for (int k : chosen) kinds[k](b);
}

}  // namespace booking::testing::fuzz
