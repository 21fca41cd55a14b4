// What the store generator adds that the migrator must carry through every
// phase, each with probes: queries through it answering in every phase as
// on the original data (reserved rows, which writers change, left out).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "tests/support/store_fuzz_internal.h"

namespace booking::testing::fuzz {
namespace {

constexpr char kNotReserved[] = " AND id NOT LIKE 'wr-%'";

const TypeCol& PickCol(Builder& b, const Table& t) {
  return t.cols[b.rng.Below(static_cast<int>(t.cols.size()))];
}

std::string Where(const Table& t, const std::string& what, const std::string& cond) {
  return absl::StrCat("SELECT ", what, " FROM ", t.Q(), " WHERE (", cond, ")", kNotReserved);
}

// Some label both admit (the rows they select together are not none).
bool Overlap(const Cond& x, const Cond& y) {
  for (int l : x.admits) {
    if (y.admits.count(l) > 0) return true;
  }
  return false;
}

// A label other than `label` a fresh row starts with.
std::string Other(int label) { return label == 0 ? "'CONFIRMED'" : "'PENDING_PAYMENT'"; }

// A fresh row whose `col` is changed to each spelling of `label`; then the
// probe's `then`.
std::string UpdateFresh(Builder& b, const Table& t, const TypeCol& col, int label,
                        const std::string& then) {
  const std::string id = b.Fresh("upd");
  return absl::StrCat(b.Insert(t, id, {{col.name, Other(label)}}), "; UPDATE ", t.Q(), " SET ",
                      Quote(col.name), " = {w:", OldLabels()[label], "} WHERE id = ", Literal(id),
                      "; ", absl::StrReplaceAll(then, {{"$ID", Literal(id)}}));
}

void PlainIndex(Builder& b, const Table& t, const TypeCol& c, const std::string& name) {
  const std::string col = Quote(c.name), x = OldLabels()[b.RandomLabel(false)];
  b.Sql(absl::StrCat("CREATE INDEX ", Quote(name), " ON ", t.Q(), " (", col, ")"));
  b.AddProbe(
      absl::StrCat("SET LOCAL enable_seqscan = off; ", Where(t, "id", col + " IN ({" + x + "})")),
      Where(t, "id", col + " = " + Literal(x)), "");
  b.Note("index", "index " + Quote(Short(name)));
}

void PartialIndex(Builder& b, const Table& t, const TypeCol& c, const std::string& name) {
  const Cond cond = b.RandomCond(Quote(c.name), false);
  b.Sql(absl::StrCat("CREATE INDEX ", Quote(name), " ON ", t.Q(), " (", Quote(t.key), ") WHERE ",
                     cond.sql));
  const std::string what = "id, " + Quote(t.key);
  b.AddProbe("SET LOCAL enable_seqscan = off; " + Where(t, what, cond.probe),
             Where(t, what, cond.sql), "");
  b.Note("index", absl::StrCat("partial index ", Quote(Short(name)), " WHERE ", cond.what));
}

void UniquePartialIndex(Builder& b, const Table& t, const TypeCol& c, const std::string& name) {
  const int x = b.RandomLabel(false);
  const std::string w = "{w:" + OldLabels()[x] + "}";
  b.Sql(absl::StrCat("CREATE UNIQUE INDEX ", Quote(name), " ON ", t.Q(), " (", Quote(t.key),
                     ") WHERE ", Quote(c.name), " = ", Literal(OldLabels()[x])));
  const std::string dup = Literal(b.Fresh("dup"));
  b.AddProbe(absl::StrCat(b.Insert(t, b.Fresh("u"), {{t.key, dup}, {c.name, w}}), "; ",
                          b.Insert(t, b.Fresh("u"), {{t.key, dup}, {c.name, w}})),
             "", "", "23505");
  const std::string taken = Literal(b.RowWith(t, c, x).second);
  b.AddProbe(b.Insert(t, b.Fresh("u"), {{t.key, taken}, {c.name, w}}), "", "", "23505");
  b.Note("index", absl::StrCat("unique partial index ", Quote(Short(name)), " WHERE ",
                               Short(c.name), " = ", OldLabels()[x]));
}

void ExpressionIndex(Builder& b, const Table& t, const TypeCol& c, const std::string& name) {
  const int x = b.RandomLabel(false);
  const std::string col = Quote(c.name), key = Literal(b.RowWith(t, c, x).second);
  b.Sql(absl::StrFormat("CREATE INDEX %s ON %s ((%s = %s), %s)", Quote(name), t.Q(), col,
                        Literal(OldLabels()[x]), Quote(t.key)));
  b.AddProbe(
      absl::StrCat(
          "SET LOCAL enable_seqscan = off; ",
          Where(t, "id",
                absl::StrCat(col, " IN ({", OldLabels()[x], "}) AND ", Quote(t.key), " = ", key))),
      Where(t, "id",
            absl::StrCat(col, " = ", Literal(OldLabels()[x]), " AND ", Quote(t.key), " = ", key)),
      "");
  b.Note("index", absl::StrCat("expression index ", Quote(Short(name)), " ((", Short(c.name), " = ",
                               OldLabels()[x], "), key)"));
}

// Options, grants, comment and owner of a new view; a probe as the reader.
void ViewDetails(Builder& b, const std::string& view, const std::string& reference) {
  if (b.rng.Percent(30)) b.Sql("COMMENT ON VIEW " + view + " IS 'for the ops screen'");
  if (b.rng.Percent(30)) {
    b.AsSuperuser("ALTER VIEW " + view + " OWNER TO " + b.viewer);
  } else {
    b.Sql("GRANT SELECT ON " + view + " TO " + b.viewer);  // views over it may be the viewer's
  }
  if (b.rng.Percent(30)) {
    b.Sql("GRANT SELECT ON " + view + " TO " + b.reader);
    b.AddProbe(absl::StrCat("SET LOCAL ROLE ", b.reader, "; SELECT id FROM ", view, " WHERE true",
                            kNotReserved),
               reference, "");
  }
}

}  // namespace

void AddIndexes(Builder& b, Table& t) {
  const int n = b.rng.Below(t.booking ? 4 : 3);
  std::vector<std::string> names;
  if (n >= 2 && b.rng.Percent(30)) {
    auto [x, y] = b.NamePair("idx");
    names = {x, y};
  }
  for (int i = 0; i < n; ++i) {
    const std::string name = i < static_cast<int>(names.size()) ? names[i] : b.Name("idx");
    const TypeCol& c = PickCol(b, t);
    switch (b.rng.Below(4)) {
      case 0:
        PlainIndex(b, t, c, name);
        break;
      case 1:
        PartialIndex(b, t, c, name);
        break;
      case 2:  // unique keys of a partitioned table hold its partition key
        t.partitioned ? PartialIndex(b, t, c, name) : UniquePartialIndex(b, t, c, name);
        break;
      default:
        ExpressionIndex(b, t, c, name);
        break;
    }
  }
}

void AddViews(Builder& b, Table& t) {
  std::string base_view, base_col;  // a filter view others may stand on
  Cond base;
  for (int n = b.rng.Below(t.booking ? 5 : 3); n > 0; --n) {
    const TypeCol& c = PickCol(b, t);
    const std::string col = Quote(c.name);
    const std::string view = Quote(b.rng.Pick(b.schemas)) + "." + Quote(b.Name("view"));
    const std::string options = b.rng.Percent(30) ? " WITH (security_barrier)" : "";
    const int kind = b.rng.Below(3);
    if (kind == 0 || (kind == 2 && base_view.empty())) {
      const Cond cond = b.RandomCond(col, true);
      b.Sql(absl::StrCat("CREATE VIEW ", view, options, " AS SELECT id, ", Quote(t.key), ", ", col,
                         " FROM ", t.Q(), " WHERE ", cond.sql));
      const std::string reference = Where(t, "id", cond.sql);
      b.AddProbe(absl::StrCat("SELECT id FROM ", view, " WHERE true", kNotReserved), reference, "");
      ViewDetails(b, view, reference);
      base_view = view, base = cond, base_col = col;
      b.Note("view", absl::StrCat("view ", Short(view), options, " WHERE ", cond.what));
    } else if (kind == 1) {
      const Cond x = b.RandomCond(col, true), y = b.RandomCond(col, true);
      const std::string stage =
          absl::StrCat("CASE WHEN ", x.sql, " THEN 'x' WHEN ", y.sql, " THEN 'y' ELSE 'other' END");
      b.Sql(absl::StrCat("CREATE VIEW ", view, options, " AS SELECT id, ", stage, " AS stage FROM ",
                         t.Q()));
      b.AddProbe(absl::StrCat("SELECT id, stage FROM ", view, " WHERE true", kNotReserved),
                 Where(t, "id, " + stage, "true"), "");
      ViewDetails(b, view, Where(t, "id", "true"));
      b.Note("view", absl::StrCat("view ", Short(view), " CASE WHEN ", x.what, " / ", y.what));
    } else {
      Cond cond = b.RandomCond(base_col, true);
      while (!Overlap(cond, base)) cond = b.RandomCond(base_col, true);
      b.Sql(absl::StrCat("CREATE VIEW ", view, options, " AS SELECT id, ", base_col, " FROM ",
                         base_view, " WHERE ", cond.sql));
      const std::string reference = Where(t, "id", base.sql + ") AND (" + cond.sql);
      b.AddProbe(absl::StrCat("SELECT id FROM ", view, " WHERE true", kNotReserved), reference, "");
      ViewDetails(b, view, reference);
      b.Note("view",
             absl::StrCat("view ", Short(view), " over ", Short(base_view), " WHERE ", cond.what));
    }
  }
}

void AddChecks(Builder& b, Table& t) {
  if (t.booking && b.rng.Percent(30)) {
    const std::string name = b.Name("work check");
    b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ADD CONSTRAINT ", Quote(name),
                       " CHECK (status = 'IN_WORKSHOP' OR \"workStartedAt\" IS NULL)"));
    b.AddProbe(
        b.Insert(t, b.Fresh("chk"), {{"status", "{w:COMPLETED}"}, {"workStartedAt", "now()"}}), "",
        "", "23514");
    const std::string id = b.Fresh("chk");
    b.AddProbe(
        absl::StrCat(b.Insert(t, id, {{"status", "{w:IN_WORKSHOP}"}, {"workStartedAt", "now()"}}),
                     "; SELECT count(*) FROM ", t.Q(), " WHERE id = ", Literal(id)),
        "", "1");
    b.Note("check", "check " + Quote(Short(name)) + " (work only in the workshop)");
  }
  for (int n = b.rng.Below(3); n > 0; --n) {
    const TypeCol& c = PickCol(b, t);
    const Cond cond = b.RandomCond(Quote(c.name), true);
    const int escape = b.NextEscape();
    const std::string name = b.Name("check");
    b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ADD CONSTRAINT ", Quote(name), " CHECK ((",
                       cond.sql, ") OR ", Quote(t.escape), " <> ", escape, ")"));
    if (b.rng.Percent(30)) {
      b.Sql(absl::StrCat("COMMENT ON CONSTRAINT ", Quote(name), " ON ", t.Q(), " IS 'kept'"));
    }
    for (int label = 0; label < 9; ++label) {
      const bool admitted = cond.admits.count(label) > 0;
      if (!b.rng.Percent(35)) continue;
      const std::string id = b.Fresh("chk");
      const std::string insert = b.Insert(
          t, id, {{c.name, "{w:" + OldLabels()[label] + "}"}, {t.escape, std::to_string(escape)}});
      b.AddProbe(admitted ? absl::StrCat(insert, "; SELECT count(*) FROM ", t.Q(),
                                         " WHERE id = ", Literal(id))
                          : insert,
                 "", admitted ? "1" : "", admitted ? "" : "23514");
    }
    b.Note("check", absl::StrCat("check ", Quote(Short(name)), " ", cond.what));
  }
}

void AddTriggers(Builder& b, Table& t) {
  for (int n = b.rng.Below(t.booking ? 4 : 2); n > 0; --n) {
    const TypeCol& c = PickCol(b, t);
    const std::string name = b.Name("trigger"), tag = b.Fresh("tag");
    const int kind = b.rng.Below(b.options.known_defects ? 4 : 3);
    const int x = kind == 3 ? 8 : b.RandomLabel(false);  // CANCELLED: no old label in a body
    const std::string count = absl::StrCat("SELECT count(*) FROM ", b.LogTable(),
                                           " WHERE \"bookingId\" = $ID AND kind = ", Literal(tag));
    if (kind == 2 && t.booking) {
      const std::string fn = Quote(b.out.schema) + "." + Quote(b.Name("touch"));
      b.Sql(absl::StrCat("CREATE FUNCTION ", fn,
                         "() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n",
                         "  NEW.\"updatedAt\" := clock_timestamp();\n  RETURN NEW;\nEND\n$$"));
      b.Sql(absl::StrCat("CREATE TRIGGER ", Quote(name), " BEFORE UPDATE ON ", t.Q(),
                         " FOR EACH ROW EXECUTE FUNCTION ", fn, "()"));
      b.AddProbe(
          UpdateFresh(b, t, c, 5,
                      "SELECT \"updatedAt\" <> '2000-01-01' FROM " + t.Q() + " WHERE id = $ID"),
          "", "t");
      b.Note("trigger", "trigger " + Quote(Short(name)) + " touching \"updatedAt\"");
      continue;
    }
    std::string fn = b.LogFunction(), when;
    if (kind == 0) {
      when = absl::StrCat(" WHEN (NEW.", Quote(c.name), " = ", Literal(OldLabels()[x]), ")");
    } else if (kind == 3) {
      fn = Quote(b.out.schema) + "." + Quote(b.Name("typed"));
      b.Sql(absl::StrCat("CREATE FUNCTION ", fn, "() RETURNS trigger LANGUAGE plpgsql AS $$\n",
                         "DECLARE\n  s ", Quote(b.out.schema),
                         ".\"BookingStatus\";\nBEGIN\n  s := NEW.", Quote(c.name),
                         ";\n  IF s = 'CANCELLED' THEN\n    INSERT INTO ", b.LogTable(),
                         " (\"bookingId\", kind) VALUES (NEW.id, TG_ARGV[0]);\n  END IF;\n",
                         "  RETURN NEW;\nEND\n$$"));
    }
    b.Sql(absl::StrCat("CREATE TRIGGER ", Quote(name), " AFTER UPDATE",
                       kind == 1 ? " OF " + Quote(c.name) : "", " ON ", t.Q(), " FOR EACH ROW",
                       when, " EXECUTE FUNCTION ", fn, "(", Literal(tag), ")"));
    const bool disabled = b.rng.Percent(15);
    if (disabled) b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " DISABLE TRIGGER ", Quote(name)));
    if (b.rng.Percent(20)) {
      b.Sql(absl::StrCat("COMMENT ON TRIGGER ", Quote(name), " ON ", t.Q(), " IS 'kept'"));
    }
    b.AddProbe(UpdateFresh(b, t, c, x, count), "", disabled ? "0" : "1");
    static const char* kKinds[] = {"AFTER UPDATE WHEN NEW.", "AFTER UPDATE OF ", "AFTER UPDATE ",
                                   "plpgsql with a typed variable, NEW."};
    b.Note("trigger", absl::StrCat("trigger ", Quote(Short(name)), " ", kKinds[kind], Short(c.name),
                                   " = ", OldLabels()[x], disabled ? " (disabled)" : ""));
  }
}

void AddPolicies(Builder& b, Table& t) {
  if (!b.rng.Percent(t.booking ? 30 : 15)) return;
  const TypeCol& c = PickCol(b, t);
  const Cond x = b.RandomCond(Quote(c.name), true), y = b.RandomCond(Quote(c.name), true);
  const Cond r = b.RandomCond(Quote(c.name), true);
  b.Sql(absl::StrCat("GRANT SELECT ON ", t.Q(), " TO ", b.reader));
  b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ENABLE ROW LEVEL SECURITY"));
  b.Sql(absl::StrCat("CREATE POLICY ", Quote(b.Name("policy")), " ON ", t.Q(), " FOR SELECT TO ",
                     b.reader, " USING (", x.sql, ")"));
  b.Sql(absl::StrCat("CREATE POLICY ", Quote(b.Name("policy")), " ON ", t.Q(), " FOR SELECT TO ",
                     b.reader, " USING (", y.sql, ")"));
  std::string reference = absl::StrCat("(", x.sql, ") OR (", y.sql, ")");
  if ((Overlap(r, x) || Overlap(r, y)) && b.rng.Percent(40)) {
    b.Sql(absl::StrCat("CREATE POLICY ", Quote(b.Name("policy")), " ON ", t.Q(),
                       " AS RESTRICTIVE FOR SELECT TO ", b.reader, " USING (", r.sql, ")"));
    reference = absl::StrCat("(", reference, ") AND (", r.sql, ")");
  }
  t.rls = true;
  b.AddProbe(absl::StrCat("SET LOCAL ROLE ", b.reader, "; SELECT id FROM ", t.Q(), " WHERE true",
                          kNotReserved),
             Where(t, "id", reference), "");
  b.Note("row security", absl::StrCat("row security on ", Quote(Short(t.name)), ": ", reference));
}

void AddRules(Builder& b, Table& t) {
  if (!b.rng.Percent(25)) return;
  const TypeCol& c = PickCol(b, t);
  const int x = b.RandomLabel(false);
  const std::string name = b.Name("rule"), tag = b.Fresh("tag");
  b.Sql(absl::StrCat("CREATE RULE ", Quote(name), " AS ON UPDATE TO ", t.Q(), " WHERE NEW.",
                     Quote(c.name), " = ", Literal(OldLabels()[x]), " DO ALSO INSERT INTO ",
                     b.LogTable(), " (\"bookingId\", kind) VALUES (NEW.id, ", Literal(tag), ")"));
  b.AddProbe(UpdateFresh(b, t, c, x,
                         absl::StrCat("SELECT count(*) FROM ", b.LogTable(),
                                      " WHERE \"bookingId\" = $ID AND kind = ", Literal(tag))),
             "", "1");
  b.Note("rule", absl::StrCat("rule ", Quote(Short(name)), " ON UPDATE WHERE ", Short(c.name),
                              " = ", OldLabels()[x]));
  if (!b.rng.Percent(50)) return;
  const int y = b.RandomLabel(false);
  const std::string keep = b.Fresh("del"), gone = b.Fresh("del"), del = b.Name("rule");
  b.Sql(absl::StrCat("CREATE RULE ", Quote(del), " AS ON DELETE TO ", t.Q(), " WHERE OLD.",
                     Quote(c.name), " = ", Literal(OldLabels()[y]), " DO INSTEAD NOTHING"));
  b.AddProbe(absl::StrCat(b.Insert(t, keep, {{c.name, "{w:" + OldLabels()[y] + "}"}}), "; ",
                          b.Insert(t, gone, {{c.name, Other(y)}}), "; DELETE FROM ", t.Q(),
                          " WHERE id IN (", Literal(keep), ", ", Literal(gone),
                          "); SELECT string_agg(id, ',') FROM ", t.Q(), " WHERE id IN (",
                          Literal(keep), ", ", Literal(gone), ")"),
             "", keep);
  b.Note("rule", absl::StrCat("rule ", Quote(Short(del)), " ON DELETE WHERE ", Short(c.name), " = ",
                              OldLabels()[y], " DO INSTEAD NOTHING"));
}

void AddColumnDetails(Builder& b, Table& t) {
  for (const TypeCol& c : t.cols) {
    const std::string col = Quote(c.name), on = t.Q() + "." + col;
    std::vector<std::string> what;
    if (b.rng.Percent(30)) {
      b.Sql("COMMENT ON COLUMN " + on + " IS 'where it stands'");
      what.push_back("comment");
    }
    if (b.rng.Percent(30)) {
      const int n = 10 + b.rng.Below(990);
      b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ALTER COLUMN ", col, " SET STATISTICS ", n));
      what.push_back(absl::StrCat("statistics ", n));
    }
    if (b.options.known_defects && b.rng.Percent(20)) {
      b.Sql(absl::StrCat("ALTER TABLE ", t.Q(), " ALTER COLUMN ", col, " SET (n_distinct = 9)"));
      what.push_back("n_distinct");
    }
    if (b.rng.Percent(30)) {
      b.Sql(absl::StrCat("GRANT SELECT (id, ", col, ") ON ", t.Q(), " TO ", b.reader));
      what.push_back("column grant");
      const std::string x = OldLabels()[b.RandomLabel(false)];
      if (!t.rls) {
        b.AddProbe(absl::StrCat("SET LOCAL ROLE ", b.reader, "; ",
                                Where(t, "id", col + " IN ({" + x + "})")),
                   Where(t, "id", col + " = " + Literal(x)), "");
      }
    }
    if (!what.empty()) b.Note("column details", Short(c.name) + ": " + absl::StrJoin(what, ", "));
  }
  if (t.booking && b.rng.Percent(20)) {
    b.Sql("COMMENT ON TYPE " + Quote(b.out.schema) + ".\"BookingStatus\" IS 'booking statuses'");
    b.Sql("GRANT USAGE ON TYPE " + Quote(b.out.schema) + ".\"BookingStatus\" TO " + b.reader);
  }
}

void AddDefaultProbes(Builder& b, const Table& t) {
  for (const TypeCol& c : t.cols) {
    if (c.default_label.empty() || !b.rng.Percent(60)) continue;
    b.AddProbe(
        absl::StrCat(b.Insert(t, b.Fresh("def"), {{c.name, ""}}), " RETURNING ", Quote(c.name)), "",
        "{v:" + c.default_label + "}");
  }
}

}  // namespace booking::testing::fuzz
