#include "tests/support/shapes.h"

#include <map>
#include <memory>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "pqxx/pqxx"

namespace booking::testing {
namespace {

// Old labels the change renames, and the new labels meaning each (the reverse
// mapping's preimage); the first is the forward mapping.
const std::vector<std::pair<std::string, std::vector<std::string>>> kRenamed = {
    {"JOCKEY_ASSIGNED", {"PICKUP_ASSIGNED"}},
    {"IN_TRANSIT_TO_WORKSHOP", {"PICKED_UP"}},
    {"IN_WORKSHOP", {"AT_WORKSHOP", "IN_SERVICE"}},
    {"COMPLETED", {"READY_FOR_RETURN"}},
    {"IN_TRANSIT_TO_CUSTOMER", {"RETURN_ASSIGNED", "RETURNED"}}};

// The migrator's bookkeeping, which legitimately changes in every phase.
constexpr char kBookkeeping[] =
    "'MigrationLedger', 'StatusMigration', 'StatusMigrationLog', 'BookingOutbox', "
    "'BookingStatusExact', 'StatusMigrationWriter', 'Booking_Status_Migration_Backup'";

std::vector<std::string> Spellings(const std::string& label, LabelSet set) {
  std::vector<std::string> out;
  if (set != LabelSet::kNew) out.push_back(label);
  if (set == LabelSet::kOld) return out;
  for (const auto& [old_label, new_labels] : kRenamed) {
    if (old_label == label) {
      out.insert(out.end(), new_labels.begin(), new_labels.end());
      return out;
    }
  }
  return {label};  // not renamed
}

std::string Forward(const std::string& label) { return Spellings(label, LabelSet::kNew)[0]; }

std::string Quoted(const std::string& label) { return absl::StrCat("'", label, "'"); }

// `text` with its placeholders expanded: one string per combination of
// {w:LABEL} spellings.
std::vector<std::string> Instances(const std::string& text, PhaseLabels phase) {
  static const std::regex kPlaceholder(R"(\{(w:|v:)?([A-Z_]+)\})");
  std::vector<std::string> out = {""};
  size_t pos = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kPlaceholder);
       it != std::sregex_iterator(); ++it) {
    const std::string literal = text.substr(pos, it->position() - pos);
    pos = it->position() + it->length();
    const std::string kind = (*it)[1], label = (*it)[2];
    std::vector<std::string> choices;
    if (kind == "v:") {
      choices = {phase.rows_new ? Forward(label) : label};
    } else {
      for (const std::string& s : Spellings(label, phase.type)) choices.push_back(Quoted(s));
      if (kind.empty()) choices = {absl::StrJoin(choices, ", ")};
    }
    std::vector<std::string> next;
    for (const std::string& prefix : out) {
      for (const std::string& c : choices) next.push_back(absl::StrCat(prefix, literal, c));
    }
    out = std::move(next);
  }
  for (std::string& o : out) o += text.substr(pos);
  return out;
}

// A query's rows as one comparable value: their count and digest.
std::string Digest(const std::string& query) {
  return absl::StrCat(
      "SELECT count(*) || ' rows ' || COALESCE(md5(string_agg(x::text, E'\\n' ORDER BY "
      "x::text)), '-') FROM (",
      query, ") AS x");
}

// Runs `sql` on `schema`'s search_path in a transaction that is rolled
// back; the last statement's first value (its rows' digest with `digest`).
std::string RunRolledBack(pqxx::connection& conn, const std::string& schema, const std::string& sql,
                          bool digest) {
  std::vector<std::string> statements = absl::StrSplit(sql, ';', absl::SkipWhitespace());
  pqxx::work w(conn);
  w.exec(absl::StrCat("SET LOCAL search_path = ", w.quote_name(schema), ", public"));
  for (size_t i = 0; i + 1 < statements.size(); ++i) w.exec(statements[i]);
  const pqxx::result r = w.exec(digest ? Digest(statements.back()) : statements.back());
  w.abort();
  if (r.empty() || r[0].empty()) return "(no rows)";
  return r[0][0].is_null() ? "NULL" : r[0][0].c_str();
}

// pqxx 6 leaves sqlstate() empty for the errors it has classes for; a
// verbose message starts "ERROR:  <SQLSTATE>: ".
std::string SqlState(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) return e.sqlstate();
  static const std::regex kCode(R"(^[A-Z]+:  ([0-9A-Z]{5}): )");
  std::cmatch m;
  return std::regex_search(e.what(), m, kCode) ? m[1].str() : "";
}

// One connection per database for every check: connecting is most of their cost.
auto* const connections = new std::map<std::string, std::unique_ptr<pqxx::connection>>();
pqxx::connection& Connection(const std::string& url) {
  std::unique_ptr<pqxx::connection>& c = (*connections)[url];
  if (c == nullptr || !c->is_open()) {
    c = std::make_unique<pqxx::connection>(url);
    c->set_verbosity(pqxx::connection_base::verbose);  // messages carry the SQLSTATE
  }
  return *c;
}

// Every schema but the system's and amcheck's (the store's, public, and any
// other holding objects over the store's).
std::string Schemas() {
  return R"(SELECT oid FROM pg_namespace
            WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'shapes_check'))";
}

// `sql` with %SCHEMAS%, %STORE% (the store's schema) and %OURS% (names of
// what the migrator makes) filled in; its rows' first values, one a line, sorted.
std::string Lines(pqxx::transaction_base& tx, const std::string& schema, const std::string& sql) {
  const std::string filled = absl::StrReplaceAll(
      sql,
      {{"%SCHEMAS%", Schemas()},
       {"%STORE%", tx.quote(tx.quote_name(schema))},
       {"%OURS%", "'__(next|wide)|^_?Booking_Status_Migration_Backup|^Booking_status_capture$'"}});
  std::string out;
  for (const pqxx::row& row : tx.exec(absl::StrCat(filled, " ORDER BY 1"))) {
    absl::StrAppend(&out, row[0].is_null() ? "NULL" : row[0].c_str(), "\n");
  }
  return out;
}

struct Section {
  const char* name;
  bool kept;  // no phase may change it (the migrator's own objects left out)
  const char* sql;
};

constexpr Section kCatalog[] = {
    {"labels", false, R"(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
       JOIN pg_type t ON t.oid = e.enumtypid
       WHERE t.typname = 'BookingStatus' AND t.typnamespace = %STORE%::regnamespace)"},
    {"relations", true, R"(SELECT format('%s %s owner=%s acl=%s options=%s rls=%s,%s bound=%s '
         'comment=%s', c.oid::regclass, c.relkind, pg_get_userbyid(c.relowner), c.relacl,
         c.reloptions, c.relrowsecurity, c.relforcerowsecurity, pg_get_expr(c.relpartbound, c.oid),
         obj_description(c.oid, 'pg_class'))
       FROM pg_class c WHERE c.relnamespace IN (%SCHEMAS%)
         AND c.relname !~ %OURS%)"},
    {"column details", true, R"(SELECT format('%s.%I acl=%s stats=%s options=%s comment=%s',
         c.oid::regclass, a.attname, a.attacl, a.attstattarget, a.attoptions,
         col_description(c.oid, a.attnum))
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace IN (%SCHEMAS%) AND a.attnum > 0
         AND NOT a.attisdropped AND c.relkind NOT IN ('i', 'I') AND c.relname !~ %OURS%
         AND a.attname !~ %OURS%)"},
    {"columns", false, R"(SELECT format('%s.%I %s notnull=%s default=%s generated=%s',
         c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
         pg_get_expr(d.adbin, d.adrelid), a.attgenerated)
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE c.relnamespace IN (%SCHEMAS%) AND a.attnum > 0
         AND NOT a.attisdropped AND c.relkind NOT IN ('i', 'I'))"},
    {"types", true, R"(SELECT format('%s %s owner=%s acl=%s comment=%s', t.oid::regtype, t.typtype,
         pg_get_userbyid(t.typowner), t.typacl, obj_description(t.oid, 'pg_type'))
       FROM pg_type t WHERE t.typnamespace IN (%SCHEMAS%)
         AND t.typname !~ %OURS%)"},
    {"indexes", false, R"(SELECT format('%s valid=%s ready=%s', pg_get_indexdef(i.indexrelid),
         i.indisvalid, i.indisready) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE c.relnamespace IN (%SCHEMAS%))"},
    {"views", false, R"(SELECT format('%s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
       FROM pg_class c WHERE c.relnamespace IN (%SCHEMAS%)
         AND c.relkind IN ('v', 'm'))"},
    {"constraints", false, R"(SELECT format('%s %s: %s', COALESCE(co.conrelid::regclass::text,
         co.contypid::regtype::text), co.conname, pg_get_constraintdef(co.oid))
       FROM pg_constraint co WHERE co.connamespace IN (%SCHEMAS%))"},
    {"constraint details", true, R"(SELECT format('%s %s validated=%s comment=%s',
         COALESCE(co.conrelid::regclass::text, co.contypid::regtype::text), co.conname,
         co.convalidated, obj_description(co.oid, 'pg_constraint'))
       FROM pg_constraint co WHERE co.connamespace IN (%SCHEMAS%)
         AND co.conname !~ %OURS% AND co.conrelid::regclass::text !~ %OURS%)"},
    {"triggers", false, R"(SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace IN (%SCHEMAS%) AND NOT t.tgisinternal)"},
    {"trigger details", true, R"(SELECT format('%s on %s type=%s of=%s enabled=%s comment=%s',
         t.tgname, t.tgrelid::regclass, t.tgtype, (SELECT string_agg(a.attname, ',' ORDER BY
         a.attname) FROM pg_attribute a WHERE a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr)),
         t.tgenabled, obj_description(t.oid, 'pg_trigger'))
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace IN (%SCHEMAS%) AND NOT t.tgisinternal
         AND t.tgname !~ %OURS%)"},
    {"policies", true, R"(SELECT format('%s on %s permissive=%s cmd=%s roles=%s comment=%s',
         p.polname, p.polrelid::regclass, p.polpermissive, p.polcmd, p.polroles::regrole[],
         obj_description(p.oid, 'pg_policy'))
       FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
       WHERE c.relnamespace IN (%SCHEMAS%))"},
    {"policy definitions", false, R"(SELECT format('%s on %s: %s / %s', p.polname,
         p.polrelid::regclass, pg_get_expr(p.polqual, p.polrelid),
         pg_get_expr(p.polwithcheck, p.polrelid)) FROM pg_policy p
       JOIN pg_class c ON c.oid = p.polrelid
       WHERE c.relnamespace IN (%SCHEMAS%))"},
    {"rules", true, R"(SELECT format('%s on %s enabled=%s comment=%s', r.rulename,
         r.ev_class::regclass, r.ev_enabled, obj_description(r.oid, 'pg_rewrite'))
       FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
       WHERE c.relnamespace IN (%SCHEMAS%) AND r.rulename <> '_RETURN')"},
    {"rule definitions", false, R"(SELECT format('%s.%s %s: %s', schemaname, tablename, rulename,
         definition) FROM pg_rules WHERE quote_ident(schemaname)::regnamespace IN (%SCHEMAS%))"},
    {"functions", false, R"(SELECT format('%s returns %s', p.oid::regprocedure,
         pg_get_function_result(p.oid)) FROM pg_proc p
       WHERE p.pronamespace IN (%SCHEMAS%))"},
    {"statistics", false, R"(SELECT stxname FROM pg_statistic_ext
       WHERE stxnamespace IN (%SCHEMAS%))"},
    {"comments", false, R"(SELECT format('%s: %s', pg_describe_object(classoid, objoid, objsubid),
         description) FROM pg_description WHERE objoid >= 16384)"},
};

constexpr char kStrayObjects[] = R"(
  SELECT 'relation ' || oid::regclass FROM pg_class WHERE relname ~ '__(next|wide)'
  UNION ALL SELECT 'type ' || oid::regtype FROM pg_type WHERE typname ~ '__(next|wide)'
  UNION ALL SELECT 'function ' || oid::regprocedure FROM pg_proc WHERE proname ~ '__(next|wide)'
  UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname ~ '__(next|wide)'
  UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE conname ~ '__(next|wide)'
  UNION ALL SELECT 'policy ' || polname FROM pg_policy WHERE polname ~ '__(next|wide)'
  UNION ALL SELECT 'rule ' || rulename FROM pg_rewrite WHERE rulename ~ '__(next|wide)'
  UNION ALL SELECT 'a second store: ' || oid::regclass FROM pg_class
    WHERE relname = 'Booking' AND relnamespace <> %STORE%::regnamespace
  UNION ALL SELECT 'a second type: ' || oid::regtype FROM pg_type
    WHERE typname = 'BookingStatus' AND typnamespace <> %STORE%::regnamespace)";

// The value `column` of row `t` gets from backfill.
std::string ForwardSql(const std::string& column, bool in_service_rule) {
  std::string sql = absl::StrCat("CASE ", column, "::text");
  for (const auto& [old_label, new_labels] : kRenamed) {
    const std::string to =
        old_label == "IN_WORKSHOP" && in_service_rule
            ? R"(CASE WHEN t."workStartedAt" IS NOT NULL THEN 'IN_SERVICE' ELSE 'AT_WORKSHOP' END)"
            : Quoted(new_labels.front());
    absl::StrAppend(&sql, " WHEN ", Quoted(old_label), " THEN ", to);
  }
  return absl::StrCat(sql, " ELSE ", column, "::text END");
}

}  // namespace

Catalog CatalogOf(const std::string& url, const std::string& schema) {
  pqxx::nontransaction tx(Connection(url));
  Catalog catalog;
  for (const Section& s : kCatalog) catalog[s.name] = Lines(tx, schema, s.sql);
  return catalog;
}

Catalog KeptPart(const Catalog& catalog) {
  Catalog kept;
  for (const Section& s : kCatalog) {
    if (s.kept) kept[s.name] = catalog.at(s.name);
  }
  return kept;
}

std::string OldLabelsIn(const Catalog& catalog) {
  // A quoted literal and the type it is cast to; only those of the status
  // type or text count (another enum may share a label's name).
  static const std::regex kLiteral(R"('([^']*)'(::(?:(?:\w+|"[^"]+")\.)?("[^"]+"|\w+))?)");
  static const std::regex kOldOnly(
      R"(\b(JOCKEY_ASSIGNED|IN_TRANSIT_TO_WORKSHOP|IN_WORKSHOP|COMPLETED|IN_TRANSIT_TO_CUSTOMER)\b)");
  std::string found;
  for (const char* section : {"columns", "indexes", "views", "triggers", "constraints",
                              "policy definitions", "rule definitions"}) {
    for (absl::string_view line : absl::StrSplit(catalog.at(section), '\n')) {
      const std::string l(line);
      for (auto m = std::sregex_iterator(l.begin(), l.end(), kLiteral); m != std::sregex_iterator();
           ++m) {
        const std::string type = (*m)[3], literal = (*m)[1];
        const bool status_or_text = type.empty() || type == "text" || type == "\"BookingStatus\"";
        if (status_or_text && std::regex_search(literal, kOldOnly)) {
          absl::StrAppend(&found, section, ": ", l, "\n");
          break;
        }
      }
    }
  }
  return found;
}

std::string StrayObjects(const std::string& url, const std::string& schema) {
  pqxx::nontransaction tx(Connection(url));
  return Lines(tx, schema, kStrayObjects);
}

void ForgetConnection(const std::string& url) { connections->erase(url); }

void EnableIndexChecks(const std::string& url) {
  pqxx::nontransaction tx(Connection(url));
  tx.exec("CREATE SCHEMA shapes_check");
  tx.exec("CREATE EXTENSION amcheck SCHEMA shapes_check");
}

std::string IndexProblems(const std::string& url, const std::string& schema) {
  pqxx::nontransaction tx(Connection(url));
  std::string problems = Lines(tx, schema, R"(
    SELECT format('%s is not valid', i.indexrelid::regclass) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace IN (%SCHEMAS%) AND NOT (i.indisvalid AND i.indisready))");
  const std::string btrees = Lines(tx, schema, R"(
    SELECT c.oid::regclass::text FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
    WHERE c.relnamespace IN (%SCHEMAS%) AND c.relkind = 'i' AND i.indisvalid
      AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))");
  for (absl::string_view index : absl::StrSplit(btrees, '\n', absl::SkipEmpty())) {
    try {
      tx.exec(absl::StrCat("SELECT shapes_check.bt_index_check(", tx.quote(std::string(index)),
                           "::regclass, true)"));
    } catch (const pqxx::sql_error& e) {
      absl::StrAppend(&problems, index, ": ", e.what());
    }
  }
  return problems;
}

std::map<std::string, std::string> RowDigests(const std::string& url, bool forward,
                                              const std::string& skip_rows_with) {
  pqxx::nontransaction tx(Connection(url));
  const pqxx::result tables = tx.exec(absl::StrReplaceAll(
      R"(SELECT format('%I.%I', n.nspname, c.relname), c.relname,
                COALESCE(string_agg(a.attname, '|') FILTER (WHERE t.typname = 'BookingStatus'), '')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         JOIN pg_type t ON t.oid = a.atttypid
         WHERE n.oid IN (%SCHEMAS%) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname NOT IN (%BOOKKEEPING%)
         GROUP BY 1, 2 ORDER BY 1)",
      {{"%SCHEMAS%", Schemas()}, {"%BOOKKEEPING%", kBookkeeping}}));
  std::map<std::string, std::string> digests;
  for (const pqxx::row& table : tables) {
    const std::string name = table[1].c_str();
    std::string row = name == "Booking" ? "(to_jsonb(t) - 'version')" : "to_jsonb(t)";
    for (absl::string_view c : absl::StrSplit(table[2].c_str(), '|', absl::SkipEmpty())) {
      if (!forward) break;
      const std::string column(c);
      row = absl::StrCat(
          "(", row, " || jsonb_build_object(", tx.quote(column), ", ",
          ForwardSql("t." + tx.quote_name(column), name == "Booking" && column == "status"), "))");
    }
    const std::string rows = absl::StrCat(
        "SELECT ", row, " FROM ", table[0].c_str(), " AS t WHERE ", tx.quote(skip_rows_with),
        " = '' OR strpos(to_jsonb(t)::text, ", tx.quote("\"" + skip_rows_with), ") = 0");
    digests[table[0].c_str()] = tx.exec(Digest(rows))[0][0].c_str();
  }
  return digests;
}

std::vector<std::string> ReferenceAnswers(const std::string& url, const Shape& shape) {
  pqxx::connection& conn = Connection(url);
  std::vector<std::string> references;
  for (const Probe& p : shape.probes) {
    references.push_back(
        p.same_as.empty()
            ? ""
            : RunRolledBack(conn, shape.schema, Instances(p.same_as, {})[0], /*digest=*/true));
  }
  return references;
}

std::vector<std::string> ProbeFailures(const std::string& url, const Shape& shape,
                                       const std::vector<std::string>& references,
                                       PhaseLabels phase) {
  pqxx::connection& conn = Connection(url);
  std::vector<std::string> failures;
  for (size_t i = 0; i < shape.probes.size(); ++i) {
    const Probe& p = shape.probes[i];
    const std::string expected =
        !p.same_as.empty() ? references[i] : Instances(p.expect, phase).front();
    for (const std::string& sql : Instances(p.sql, phase)) {
      const std::string where = absl::StrCat(shape.name, ".sql:", p.line, " [", sql, "]: ");
      try {
        const std::string answer = RunRolledBack(conn, shape.schema, sql, !p.same_as.empty());
        if (!p.rejects.empty()) {
          failures.push_back(
              absl::StrCat(where, "accepted (", answer, "); expected SQLSTATE ", p.rejects));
        } else if (answer != expected) {
          failures.push_back(absl::StrCat(where, "answered ", answer, "; expected ", expected));
        }
      } catch (const pqxx::sql_error& e) {
        if (p.rejects.empty() || SqlState(e) != p.rejects) {
          failures.push_back(absl::StrCat(where, "failed: ", e.what()));
        }
      }
    }
  }
  return failures;
}

}  // namespace booking::testing
