#include "tests/support/fuzz_checks.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "pqxx/pqxx"

namespace booking::testing {
namespace {

std::string Quoted(const std::string& raw) { return absl::StrCat("\"", raw, "\""); }

// "kind name: why" -> "kind name", "why".
std::pair<std::string, std::string> HeadAndRest(absl::string_view text) {
  const size_t colon = text.find(": ");
  if (colon == absl::string_view::npos) return {std::string(text), ""};
  return {std::string(text.substr(0, colon)), std::string(text.substr(colon + 2))};
}

bool Matches(const PrintedRefusal& p, const ExpectedRefusal& e) {
  for (const std::string& f : e.fragments) {
    if (!absl::StrContains(p.head, f)) return false;
  }
  return true;
}

std::string Describe(const ExpectedRefusal& e) {
  std::vector<std::string> quoted;
  for (const std::string& f : e.fragments) quoted.push_back(Quoted(f));
  return absl::StrCat(e.kind, " ", absl::StrJoin(quoted, "."));
}

std::vector<std::string> Limited(std::vector<std::string> lines, size_t max) {
  if (lines.size() > max) {
    const size_t more = lines.size() - max;
    lines.resize(max);
    lines.push_back(absl::StrCat("... and ", more, " more"));
  }
  return lines;
}

}  // namespace

std::vector<PrintedRefusal> TextPlanRefusals(const std::string& output) {
  // "  REFUSED kind name: why" (why may run over lines, some indented by two
  // spaces only), then "    what to do: ..." before the next object.
  std::vector<PrintedRefusal> out;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, "  REFUSED ")) {
      const auto [head, why] = HeadAndRest(line);
      out.push_back({head, !why.empty(), false});
    } else if (!out.empty() && absl::ConsumePrefix(&line, "    what to do: ")) {
      out.back().remedy |= !line.empty();
    }
  }
  return out;
}

std::vector<PrintedRefusal> JsonPlanRefusals(const std::string& output, std::string* error) {
  google::protobuf::Struct plan;
  bool parsed = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StartsWith(line, "{\"schema\"") || !absl::StrContains(line, "\"objects\"")) continue;
    parsed = google::protobuf::util::JsonStringToMessage(std::string(line), &plan).ok();
  }
  std::vector<PrintedRefusal> out;
  if (!parsed || plan.fields().count("objects") == 0) {
    *error = "no plan object (with \"objects\") in the output";
    return out;
  }
  for (const auto& o : plan.fields().at("objects").list_value().values()) {
    const auto& f = o.struct_value().fields();
    auto text = [&](const char* key) { return f.count(key) ? f.at(key).string_value() : ""; };
    if (text("refusal").empty()) continue;
    out.push_back({absl::StrCat(text("kind"), " ", text("name")), true, !text("remedy").empty()});
  }
  return out;
}

std::vector<PrintedRefusal> ExpandRefusals(const std::string& output) {
  // "expand refuses; nothing was changed. A: why. What to do: x | B: ..."
  // before the JSON log line.
  const std::string text = output.substr(0, output.find("\n{\"time\""));
  const size_t start = text.find("nothing was changed. ");
  std::vector<PrintedRefusal> out;
  if (start == std::string::npos) return out;
  for (absl::string_view item : absl::StrSplit(text.substr(start + 21), " | ")) {
    const auto [head, rest] = HeadAndRest(item);
    const size_t todo = rest.find("What to do: ");
    out.push_back(
        {head, todo != 0 && !rest.empty(), todo != std::string::npos && rest.size() > todo + 12});
  }
  return out;
}

std::vector<std::string> RefusalFailures(const std::string& command,
                                         const std::vector<PrintedRefusal>& printed,
                                         const GeneratedStore& store) {
  std::vector<std::string> failures;
  for (const ExpectedRefusal& e : store.refused) {
    bool found = false;
    for (const PrintedRefusal& p : printed) {
      if (!Matches(p, e)) continue;
      found = true;
      if (!p.reason || !p.remedy) {
        failures.push_back(absl::StrCat(command, ": ", Describe(e), " refused as \"", p.head,
                                        "\" without ", p.reason ? "what to do" : "a reason"));
      }
    }
    if (!found) failures.push_back(absl::StrCat(command, ": not refused: ", Describe(e)));
  }
  for (const PrintedRefusal& p : printed) {
    bool declared = false;
    for (const auto* list : {&store.refused, &store.may_refuse}) {
      for (const ExpectedRefusal& e : *list) declared |= Matches(p, e);
    }
    if (!declared) failures.push_back(absl::StrCat(command, ": over-refusal: ", p.head));
  }
  return failures;
}

std::string OrderingAnswers(const std::string& url, const std::string& schema) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  const std::string booking = absl::StrCat(tx.quote_name(schema), ".\"Booking\"");
  const std::string rows = booking + " WHERE id NOT LIKE 'wr-%'";
  std::string out = absl::StrCat(
      "count(*) WHERE status < 'DELIVERED': ",
      tx.exec("SELECT count(*) FROM " + rows + " AND status < 'DELIVERED'")[0][0].c_str(),
      "\nclass of max(status): ",
      StatusClass(tx.exec("SELECT max(status)::text FROM " + rows)[0][0].c_str()),
      "\nORDER BY status, id, as runs of classes:");
  // Runs of one class in the order; within a class the ids as a set (a
  // class may hold two labels, each sorted by id on its own).
  std::string run_class;
  std::set<std::string> ids;
  auto flush = [&] {
    if (ids.empty()) return;
    std::string all = absl::StrJoin(ids, ",");
    absl::StrAppend(&out, " ", run_class, "x", ids.size(), "#",
                    std::hash<std::string>()(all) % 100000);
    ids.clear();
  };
  for (const pqxx::row& r :
       tx.exec("SELECT id, status::text AS label FROM " + rows + " ORDER BY status, id")) {
    const std::string c = StatusClass(r[1].c_str());
    if (c != run_class) flush();
    run_class = c;
    ids.insert(r[0].c_str());
  }
  flush();
  return out;
}

Cells ReservedCells(const std::string& url, const GeneratedStore& store) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  Cells cells;
  for (size_t i = 0; i < store.columns.size(); ++i) {
    const TypeColumn& c = store.columns[i];
    for (const pqxx::row& r : tx.exec(absl::StrCat("SELECT id, ", c.column, "::text FROM ", c.table,
                                                   " WHERE id LIKE 'wr-%'"))) {
      cells[{i, r[0].c_str()}] = r[1].is_null() ? "NULL" : r[1].c_str();
    }
  }
  return cells;
}

std::vector<std::string> CellFailures(const Cells& now, const Cells& expected,
                                      const GeneratedStore& store) {
  std::vector<std::string> failures;
  for (const auto& [cell, label] : expected) {
    auto it = now.find(cell);
    const std::string held = it == now.end() ? "(no row)" : it->second;
    if (StatusClass(held) == StatusClass(label)) continue;
    failures.push_back(absl::StrCat("lost write: ", store.columns[cell.first].label, " of ",
                                    cell.second, " last written ", label, ", holds ", held));
  }
  return Limited(failures, 10);
}

std::vector<std::string> DigestFailures(const std::map<std::string, std::string>& now,
                                        const std::map<std::string, std::string>& expected) {
  std::vector<std::string> failures;
  for (const auto& [table, digest] : expected) {
    auto it = now.find(table);
    if (it == now.end()) {
      failures.push_back("rows: table " + table + " is gone");
    } else if (it->second != digest) {
      failures.push_back(
          absl::StrCat("rows of ", table, " differ: ", it->second, ", expected ", digest));
    }
  }
  for (const auto& [table, digest] : now) {
    if (expected.count(table) == 0) failures.push_back("rows: a new table " + table);
  }
  return failures;
}

std::vector<std::string> CatalogFailures(const Catalog& now, const Catalog& expected) {
  std::vector<std::string> failures;
  for (const auto& [section, text] : expected) {
    auto it = now.find(section);
    const std::string got = it == now.end() ? "" : it->second;
    if (got == text) continue;
    const std::vector<std::string> want_lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
    const std::vector<std::string> got_lines = absl::StrSplit(got, '\n', absl::SkipEmpty());
    const std::set<std::string> want(want_lines.begin(), want_lines.end());
    const std::set<std::string> have(got_lines.begin(), got_lines.end());
    std::vector<std::string> diff;
    for (const std::string& l : want) {
      if (have.count(l) == 0) diff.push_back("  - " + l);
    }
    for (const std::string& l : have) {
      if (want.count(l) == 0) diff.push_back("  + " + l);
    }
    failures.push_back(absl::StrCat("catalog section \"", section, "\" changed:\n",
                                    absl::StrJoin(Limited(diff, 8), "\n")));
  }
  return failures;
}

}  // namespace booking::testing
