// The store generator's tools: PRNG, names, conditions, fresh rows.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/support/store_fuzz_internal.h"

namespace booking::testing::fuzz {
namespace {

// Pieces of names: quoting needed (capitals, spaces, punctuation), multibyte
// UTF-8 (2 and 3 bytes). Never '"', "'", '$' or ':' (refusals are matched by
// name, bodies are dollar-quoted).
const std::vector<std::string>& Pieces() {
  static const auto* pieces = new std::vector<std::string>{
      "a", "b", "Q", "x", "Z", "k", "M", "r", "0",  "7",  " ", " ", "_",
      "-", ".", "é", "ü", "ß", "ø", "Ω", "ж", "日", "本", "→", "€"};
  return *pieces;
}

bool Acceptable(const std::string& name, const std::set<std::string>& used) {
  if (name.size() > 63 || used.count(name) > 0) return false;
  // Ours would be taken for the migrator's (__next, __wide); "wr-" marks reserved rows.
  if (absl::StrContains(name, "__") || absl::StrContains(name, "wr-")) return false;
  if (absl::StartsWithIgnoreCase(name, "pg_")) return false;
  const std::string upper = absl::AsciiStrToUpper(name);
  for (const std::string& l : OldLabels()) {
    if (absl::StrContains(upper, l)) return false;
  }
  return true;
}

}  // namespace

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int Rng::Below(int n) { return n <= 1 ? 0 : static_cast<int>(Next() % static_cast<uint64_t>(n)); }

std::string Quote(const std::string& raw) { return absl::StrCat("\"", raw, "\""); }

std::string Literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string Short(const std::string& raw) {
  if (raw.size() <= 24) return raw;
  size_t keep = 20;
  while (keep > 0 && (static_cast<unsigned char>(raw[keep]) & 0xC0) == 0x80) --keep;
  return absl::StrCat(raw.substr(0, keep), "…(", raw.size(), "B)");
}

Builder::Builder(uint64_t seed, const GeneratorOptions& o) : rng(seed), options(o) {
  out.seed = seed;
}

// `hint` and random pieces, exactly `bytes` long (ASCII fills the end).
std::string Builder::RandomName(const std::string& hint, int bytes) {
  std::string name = rng.Percent(20) ? rng.Pick(Pieces()) + hint : hint;
  const size_t target = std::max<size_t>(bytes, name.size() + 1);
  while (name.size() < target) {
    const std::string& p = rng.Pick(Pieces());
    name += name.size() + p.size() <= target ? p : std::string(1, "aQz7"[rng.Below(4)]);
  }
  return name;
}

std::string Builder::Name(const std::string& hint) {
  const int max = options.known_defects ? 63 : 40;
  if (hint.size() > 24) return Name("x");  // a hint leaves room for random pieces
  for (;;) {
    const int mode = rng.Below(10);
    int bytes = mode < 4    ? static_cast<int>(hint.size()) + 1 + rng.Below(8)
                : mode < 7  ? 10 + rng.Below(31)
                : mode == 7 ? 63
                            : 41 + rng.Below(23);
    std::string name = RandomName(hint, std::min(bytes, max));
    if (Acceptable(name, used_)) {
      used_.insert(name);
      return name;
    }
  }
}

std::pair<std::string, std::string> Builder::NamePair(const std::string& hint) {
  if (!options.known_defects) return {Name(hint), Name(hint)};
  for (;;) {
    const int prefix = 55 + rng.Below(6);
    const std::string common = RandomName(hint, prefix);
    std::string a = common, b = common;
    for (int n = 1 + rng.Below(63 - prefix); n > 0; --n) a += "abcXYZ"[rng.Below(6)];
    for (int n = 1 + rng.Below(63 - prefix); n > 0; --n) b += "abcXYZ"[rng.Below(6)];
    if (a != b && Acceptable(a, used_) && Acceptable(b, used_)) {
      used_.insert(a);
      used_.insert(b);
      return {a, b};
    }
  }
}

void Builder::Raw(const std::string& text) { sql_ += text; }

void Builder::Sql(const std::string& statement) { sql_ += statement + ";\n"; }

void Builder::AsSuperuser(const std::string& statement) {
  if (!Owned()) return Sql(statement);
  sql_ += absl::StrCat("RESET ROLE;\n", statement, ";\nSET ROLE ", owner, ";\n");
}

void Builder::Refuse(const std::string& kind, std::vector<std::string> fragments) {
  std::vector<std::string> shown;
  for (const std::string& f : fragments) shown.push_back(Quote(Short(f)));
  Note("REFUSED " + kind, absl::StrCat("REFUSED ", kind, " ", absl::StrJoin(shown, ".")));
  out.refused.push_back({kind, std::move(fragments)});
}

void Builder::AddProbe(const std::string& sql, const std::string& same_as,
                       const std::string& expect, const std::string& rejects) {
  out.probes.push_back({static_cast<int>(out.probes.size()) + 1, sql, same_as, expect, rejects});
}

int Builder::RandomLabel(bool renamed_only) {
  if (renamed_only || rng.Percent(75))
    return 2 + rng.Below(5);  // JOCKEY_ASSIGNED..IN_TRANSIT_TO_CUSTOMER
  return rng.Below(9);
}

Cond Builder::RandomCond(const std::string& column, bool text_forms) {
  const int form = rng.Below(text_forms ? 6 : 4);
  const int x = RandomLabel(false);
  int y = RandomLabel(false);
  while (y == x) y = RandomLabel(false);
  const bool two = form == 2 || form == 3 || form == 5;
  const bool negated = form == 1 || form == 3;
  const std::string lhs = form >= 4 ? column + "::text" : column;
  const std::string lx = Literal(OldLabels()[x]), ly = Literal(OldLabels()[y]);
  const std::string px = "{" + OldLabels()[x] + "}", py = "{" + OldLabels()[y] + "}";
  Cond c;
  static const char* kOps[] = {" = ", " <> ", " IN ", " NOT IN ", " = ", " IN "};
  c.sql = two ? absl::StrCat(lhs, kOps[form], "(", lx, ", ", ly, ")")
              : absl::StrCat(lhs, kOps[form], lx);
  c.probe = absl::StrCat(lhs, negated ? " NOT IN (" : " IN (", px, two ? ", " + py : "", ")");
  c.what = absl::StrCat(Short(column), form >= 4 ? "::text" : "", kOps[form], OldLabels()[x],
                        two ? "," + OldLabels()[y] : "");
  for (int l = 0; l < 9; ++l) {
    if ((l == x || (two && l == y)) != negated) c.admits.insert(l);
  }
  return c;
}

std::pair<std::string, std::string> Builder::RowWith(const Table& t, const TypeCol& col,
                                                     int label) const {
  int i = 1;
  while ((i + col.shift) % 9 != label || (col.nullable && i % 7 == 3)) ++i;
  const std::string booking = absl::StrFormat("bk-%08d", i);
  if (t.booking) return {booking, absl::StrCat("customer-", i % customers)};
  return {absl::StrFormat("ot-%08d", i), booking};
}

std::string Builder::Insert(const Table& t, const std::string& id,
                            const std::map<std::string, std::string>& values) const {
  std::map<std::string, std::string> v = {{"id", Literal(id)}, {t.key, Literal("key-" + id)}};
  if (t.booking) v["updatedAt"] = "'2000-01-01'";
  for (const TypeCol& c : t.cols) {
    if (!c.nullable && c.default_label.empty()) v[c.name] = "'PENDING_PAYMENT'";
  }
  for (const auto& [column, value] : values) v[column] = value;
  std::vector<std::string> names, sql;
  for (const auto& [column, value] : v) {
    if (value.empty()) continue;  // left to its default
    names.push_back(Quote(column));
    sql.push_back(value);
  }
  return absl::StrCat("INSERT INTO ", t.Q(), " (", absl::StrJoin(names, ", "), ") VALUES (",
                      absl::StrJoin(sql, ", "), ")");
}

const std::string& Builder::LogTable() {
  if (log_table_.empty()) {
    log_table_ = Quote(out.schema) + "." + Quote(Name("log"));
    Sql("CREATE TABLE " + log_table_ + " (\"bookingId\" TEXT NOT NULL, kind TEXT NOT NULL)");
  }
  return log_table_;
}

const std::string& Builder::LogFunction() {
  if (log_function_.empty()) {
    const std::string& log = LogTable();
    log_function_ = Quote(out.schema) + "." + Quote(Name("log event"));
    Sql(absl::StrCat(
        "CREATE FUNCTION ", log_function_,
        "() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO ", log,
        " (\"bookingId\", kind) VALUES (NEW.id, TG_ARGV[0]);\n  RETURN NEW;\nEND\n$$"));
  }
  return log_function_;
}

// The store in a line: where, how big, how many objects of each kind.
std::string Builder::Finish() {
  std::vector<std::string> parts = {
      absl::StrCat("schema ", out.schema == "public" ? "public" : Quote(Short(out.schema)), ", ",
                   schemas.size() - 1, " other schemas, migrator as ",
                   Owned() ? owner : "a superuser", ", ", rows, " rows")};
  for (const Table& t : tables) {
    parts.push_back(absl::StrCat(Quote(Short(t.name)), t.partitioned ? " (partitioned)" : "", " ",
                                 t.cols.size(), " cols of the type"));
  }
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& [kind, what] : notes_) {
    if (kind.empty()) continue;
    auto it =
        std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == kind; });
    if (it == counts.end()) {
      counts.push_back({kind, 1});
    } else {
      ++it->second;
    }
  }
  for (const auto& [kind, n] : counts) parts.push_back(absl::StrCat(n, " ", kind));
  return absl::StrJoin(parts, "; ");
}

std::vector<std::string> Builder::details() const {
  std::vector<std::string> out;
  for (const auto& [kind, what] : notes_) out.push_back(what);
  return out;
}

}  // namespace booking::testing::fuzz
