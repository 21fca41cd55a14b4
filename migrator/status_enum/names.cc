#include "migrator/status_enum/names.h"

#include "absl/strings/str_cat.h"

namespace booking::migrator {

std::string Suffixed(absl::string_view raw, absl::string_view suffix) {
  constexpr size_t kMaxIdentifierBytes = 63;
  if (raw.size() + suffix.size() <= kMaxIdentifierBytes) return absl::StrCat(raw, suffix);
  size_t keep = kMaxIdentifierBytes - suffix.size();
  // Back off to the start of a character: UTF-8 continuation bytes are 10xxxxxx.
  while (keep > 0 && (static_cast<unsigned char>(raw[keep]) & 0xC0) == 0x80) --keep;
  return absl::StrCat(raw.substr(0, keep), suffix);
}

std::string ShadowColumn(absl::string_view column) { return Suffixed(column, "__next"); }

std::string SyncTrigger(absl::string_view table_raw, absl::string_view column) {
  return Suffixed(absl::StrCat(table_raw, "_", column), "__next_sync");
}

std::string NotNullCheck(absl::string_view column) { return Suffixed(column, "__next_not_null"); }

std::string NextName(absl::string_view raw) { return Suffixed(raw, "__next"); }

std::string WideName(absl::string_view raw) { return Suffixed(raw, "__wide"); }

}  // namespace booking::migrator
