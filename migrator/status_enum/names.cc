#include "migrator/status_enum/names.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace booking::migrator {
namespace {

constexpr size_t kMaxIdentifierBytes = 63;

// FNV-1a, 32 bits: stable across runs, machines and releases (a rerun must
// find what an interrupted run made).
uint32_t Fnv1a(absl::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

std::string Suffixed(absl::string_view raw, absl::string_view suffix) {
  if (raw.size() + suffix.size() <= kMaxIdentifierBytes) return absl::StrCat(raw, suffix);
  // Too long: a prefix, then a hash of the whole name, so that two names
  // sharing a long prefix (or differing only past byte 63) stay apart.
  const std::string mark = absl::StrFormat("_%08x", Fnv1a(raw));
  size_t keep = kMaxIdentifierBytes - suffix.size() - mark.size();
  // Back off to the start of a character: UTF-8 continuation bytes are 10xxxxxx.
  while (keep > 0 && (static_cast<unsigned char>(raw[keep]) & 0xC0) == 0x80) --keep;
  return absl::StrCat(raw.substr(0, keep), mark, suffix);
}

std::string ShadowColumn(absl::string_view column) { return Suffixed(column, "__next"); }

std::string SyncTrigger(absl::string_view table_raw, absl::string_view column) {
  return Suffixed(absl::StrCat(table_raw, "_", column), "__next_sync");
}

std::string SyncFunction(absl::string_view table_schema, absl::string_view store_schema,
                         absl::string_view table_raw, absl::string_view column) {
  if (table_schema == store_schema) return SyncTrigger(table_raw, column);
  return Suffixed(absl::StrCat(table_schema, "_", table_raw, "_", column), "__next_sync");
}

std::string NotNullCheck(absl::string_view column) { return Suffixed(column, "__next_not_null"); }

std::string NextName(absl::string_view raw) { return Suffixed(raw, "__next"); }

std::string WideName(absl::string_view raw) { return Suffixed(raw, "__wide"); }

}  // namespace booking::migrator
