#include "migrator/status_enum/labels.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/status_catalog.h"

namespace booking::migrator {
namespace {

void AddUnique(std::vector<std::string>& out, absl::string_view label) {
  if (std::find(out.begin(), out.end(), label) == out.end()) out.emplace_back(label);
}

}  // namespace

std::vector<std::string> OldLabels() {
  // The seed's order: the new set's shared labels interleaved as they were.
  return {OldSetLabels().begin(), OldSetLabels().end()};
}

std::vector<std::string> NewLabels() {
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) labels.emplace_back(Label(s));
  return labels;
}

std::vector<std::string> OldOnlyLabels() {
  std::vector<std::string> labels;
  for (LegacyStatus s : AllLegacyStatuses()) labels.emplace_back(Label(s));
  return labels;
}

std::vector<std::string> NewOnlyLabels() {
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) {
    if (ReverseLabel(s) != Label(s)) labels.emplace_back(Label(s));
  }
  return labels;
}

bool IsOldOnly(absl::string_view label) { return ParseLegacyStatus(label).has_value(); }

bool IsNewOnly(absl::string_view label) {
  auto s = ParseStatus(label);
  return s && ReverseLabel(*s) != label;
}

bool IsKnownLabel(absl::string_view label) {
  return ParseStatus(label).has_value() || ParseLegacyStatus(label).has_value();
}

std::string ForwardLabel(absl::string_view label) {
  if (auto old = ParseLegacyStatus(label)) return std::string(Label(MapForward(*old)));
  return std::string(label);
}

std::string ReverseLabelOf(absl::string_view label) {
  if (auto s = ParseStatus(label)) return std::string(ReverseLabel(*s));
  return std::string(label);
}

std::vector<std::string> Preimage(absl::string_view label) {
  if (!IsOldOnly(label)) return {std::string(label)};
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) {
    if (ReverseLabel(s) == label) labels.emplace_back(Label(s));
  }
  return labels;
}

std::vector<std::string> StatusClass(absl::string_view label) {
  const std::string old_label = ReverseLabelOf(label);
  std::vector<std::string> out = {old_label};
  for (const std::string& l : Preimage(old_label)) AddUnique(out, l);
  return out;
}

std::vector<std::string> WindowOrder() {
  std::vector<std::string> order;
  for (const std::string& old_label : OldLabels()) {
    AddUnique(order, old_label);
    for (const std::string& l : Preimage(old_label)) AddUnique(order, l);
  }
  for (const std::string& l : NewLabels())
    AddUnique(order, l);  // none left, unless the sets change
  return order;
}

std::string Placement(const std::vector<std::string>& existing, const std::string& label,
                      const QuoteFn& quote) {
  const std::vector<std::string> order = WindowOrder();
  const auto at = std::find(order.begin(), order.end(), label);
  if (at == order.end()) return "";
  const auto has = [&](const std::string& l) {
    return std::find(existing.begin(), existing.end(), l) != existing.end();
  };
  for (auto it = std::make_reverse_iterator(at); it != order.rend(); ++it) {
    if (has(*it)) return absl::StrCat("AFTER ", quote(*it));
  }
  for (auto it = at + 1; it != order.end(); ++it) {
    if (has(*it)) return absl::StrCat("BEFORE ", quote(*it));
  }
  return "";
}

std::vector<std::string> ComparisonLabels(absl::string_view label, DefinitionMode mode) {
  std::vector<std::string> out;
  switch (mode) {
    case DefinitionMode::kWiden:
      AddUnique(out, label);
      if (IsNewOnly(label)) AddUnique(out, ReverseLabelOf(label));
      for (const std::string& l : Preimage(label)) AddUnique(out, l);
      break;
    case DefinitionMode::kNarrow:
      for (const std::string& l : Preimage(label)) AddUnique(out, l);
      break;
    case DefinitionMode::kToOld:
      AddUnique(out, ReverseLabelOf(label));
      break;
  }
  return out;
}

std::string ValueLabel(absl::string_view label, DefinitionMode mode) {
  switch (mode) {
    case DefinitionMode::kWiden:
      return std::string(label);
    case DefinitionMode::kNarrow:
      return ForwardLabel(label);
    case DefinitionMode::kToOld:
      return ReverseLabelOf(label);
  }
  return std::string(label);
}

std::string ForwardCaseSql(const std::string& expr, const QuoteFn& quote) {
  std::string sql = absl::StrCat("CASE ", expr);
  for (const std::string& l : OldOnlyLabels()) {
    absl::StrAppend(&sql, " WHEN ", quote(l), " THEN ", quote(ForwardLabel(l)));
  }
  return absl::StrCat(sql, " ELSE ", expr, " END");
}

std::string ReverseCaseSql(const std::string& expr, const QuoteFn& quote) {
  std::string sql = absl::StrCat("CASE ", expr);
  for (const std::string& l : NewOnlyLabels()) {
    absl::StrAppend(&sql, " WHEN ", quote(l), " THEN ", quote(ReverseLabelOf(l)));
  }
  return absl::StrCat(sql, " ELSE ", expr, " END");
}

std::string LabelArraySql(const std::vector<std::string>& labels, const QuoteFn& quote) {
  std::string sql = "ARRAY[";
  for (size_t i = 0; i < labels.size(); ++i) absl::StrAppend(&sql, i ? ", " : "", quote(labels[i]));
  return absl::StrCat(sql, "]::text[]");
}

std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace booking::migrator
