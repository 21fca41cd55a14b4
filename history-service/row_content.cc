#include "history-service/row_content.h"

#include <sodium.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

void Field(std::string& out, const std::optional<std::string>& v) {
  if (!v) {
    out += 'n';
    return;
  }
  absl::StrAppend(&out, "v", v->size(), ":", *v);
}

std::optional<std::string> Nullable(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

std::string JsonOptional(const std::optional<std::string>& v) {
  return v ? JsonString(*v) : "null";
}

}  // namespace

const char kContentColumns[] =
    R"("eventId"::text AS event_id, "bookingId" AS booking_id, sequence AS sequence,
       "fromStatus" AS from_status, "toStatus" AS to_status, "changedBy" AS changed_by,
       reason AS reason, metadata::text AS metadata,
       (extract(epoch from "createdAt") * 1000000)::bigint AS created_micros)";

namespace {

// `columns` is a pqxx::result or a pqxx::row: each finds a column by name.
template <typename Columns>
void FindContent(const Columns& columns, ContentLayout& at) {
  at.event_id = columns.column_number("event_id");
  at.booking_id = columns.column_number("booking_id");
  at.sequence = columns.column_number("sequence");
  at.from_status = columns.column_number("from_status");
  at.to_status = columns.column_number("to_status");
  at.changed_by = columns.column_number("changed_by");
  at.reason = columns.column_number("reason");
  at.metadata = columns.column_number("metadata");
  at.created_micros = columns.column_number("created_micros");
}

}  // namespace

ContentLayout::ContentLayout(const pqxx::result& r) { FindContent(r, *this); }
ContentLayout::ContentLayout(const pqxx::row& row) { FindContent(row, *this); }

const char kContentRecord[] =
    R"(event_id uuid, booking_id text, sequence bigint, from_status text, to_status text,
       changed_by text, reason text, metadata text, created_micros bigint, trace_parent text)";

const char kContentValues[] =
    R"(r.event_id, r.booking_id, r.sequence, r.from_status, r.to_status, r.changed_by, r.reason,
       r.metadata::jsonb,
       timestamp '1970-01-01 00:00:00' + r.created_micros * interval '1 microsecond',
       NULLIF(r.trace_parent, ''))";

const char kContentInsertColumns[] =
    R"("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata,
       "createdAt", "traceParent")";

bool RowContent::operator==(const RowContent& o) const {
  return event_id == o.event_id && booking_id == o.booking_id && sequence == o.sequence &&
         from_status == o.from_status && to_status == o.to_status && changed_by == o.changed_by &&
         reason == o.reason && metadata == o.metadata && created_micros == o.created_micros;
}

RowContent ReadContent(const pqxx::row& row, const ContentLayout& at) {
  RowContent c;
  c.event_id = row[at.event_id].as<std::string>();
  c.booking_id = row[at.booking_id].as<std::string>();
  c.sequence = row[at.sequence].as<int64_t>();
  c.from_status = Nullable(row[at.from_status]);
  c.to_status = row[at.to_status].as<std::string>();
  c.changed_by = Nullable(row[at.changed_by]);
  c.reason = Nullable(row[at.reason]);
  c.metadata = Nullable(row[at.metadata]);
  c.created_micros = row[at.created_micros].as<int64_t>();
  return c;
}

RowContent ReadContent(const pqxx::row& row) { return ReadContent(row, ContentLayout(row)); }

std::string Canonical(const RowContent& c) {
  std::string out = "bsh1";
  Field(out, c.event_id);
  Field(out, c.booking_id);
  Field(out, absl::StrCat(c.sequence));
  Field(out, c.from_status);
  Field(out, c.to_status);
  Field(out, c.changed_by);
  Field(out, c.reason);
  Field(out, c.metadata);
  Field(out, absl::StrCat(c.created_micros));
  return out;
}

std::string ContentDigest(const RowContent& c) {
  const std::string canonical = Canonical(c);
  std::string digest(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(digest.data()),
                     reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size());
  return digest;
}

std::string RowHash(const std::string& previous, const RowContent& c) {
  return HashCanonical(previous, Canonical(c));
}

std::string HashCanonical(const std::string& previous, const std::string& canonical) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(previous.data()),
                            previous.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(canonical.data()),
                            canonical.size());
  std::string hash(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256_final(&state, reinterpret_cast<unsigned char*>(hash.data()));
  return hash;
}

const std::string& FirstPrevious() {
  static const std::string kZero(crypto_hash_sha256_BYTES, '\0');
  return kZero;
}

std::string Hex(const std::string& bytes) {
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  hex.pop_back();
  return hex;
}

std::optional<std::string> FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      len != bytes.size() || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return bytes;
}

std::string ContentJson(const RowContent& c) {
  return absl::StrCat(
      "{\"event_id\":", JsonString(c.event_id), ",\"booking_id\":", JsonString(c.booking_id),
      ",\"sequence\":", c.sequence, ",\"from_status\":", JsonOptional(c.from_status),
      ",\"to_status\":", JsonString(c.to_status), ",\"changed_by\":", JsonOptional(c.changed_by),
      ",\"reason\":", JsonOptional(c.reason), ",\"metadata\":", JsonOptional(c.metadata),
      ",\"created_micros\":", c.created_micros, ",\"trace_parent\":", JsonString(c.trace_parent),
      "}");
}

}  // namespace booking
