#include "history-service/entry_check.h"

#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace booking {
namespace {

// Canonical decimal: "0", or digits without a leading zero, after an
// optional '-' when `sign` (never "-0").
bool CanonicalDecimal(absl::string_view s, bool sign) {
  if (sign && !s.empty() && s[0] == '-') {
    s.remove_prefix(1);
    if (s == "0") return false;
  }
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char ch : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(ch))) return false;
  }
  return true;
}

// Reads fields off the front of a canonical encoding.
class Reader {
 public:
  explicit Reader(absl::string_view rest) : rest_(rest) {}

  // One field: NULL ("n") or "v<bytes>:<value>"; an error names `name`.
  absl::StatusOr<std::optional<std::string>> Field(const char* name) {
    if (rest_.empty()) return Malformed(name, "missing");
    const char tag = rest_[0];
    rest_.remove_prefix(1);
    if (tag == 'n') return std::optional<std::string>();
    if (tag != 'v') return Malformed(name, "neither NULL (n) nor a value (v)");
    const size_t colon = rest_.find(':');
    if (colon == absl::string_view::npos) return Malformed(name, "no ':' after its length");
    uint64_t length = 0;
    if (!CanonicalDecimal(rest_.substr(0, colon), false) ||
        !absl::SimpleAtoi(rest_.substr(0, colon), &length)) {
      return Malformed(name, "its length is not a decimal number");
    }
    rest_.remove_prefix(colon + 1);
    if (length > rest_.size()) return Malformed(name, "shorter than its length");
    std::string value(rest_.substr(0, length));
    rest_.remove_prefix(length);
    return std::optional<std::string>(std::move(value));
  }

  absl::StatusOr<std::string> Required(const char* name) {
    absl::StatusOr<std::optional<std::string>> v = Field(name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Malformed(name, "NULL where a value is required");
    return **v;
  }

  absl::StatusOr<int64_t> Number(const char* name, bool sign) {
    absl::StatusOr<std::string> v = Required(name);
    if (!v.ok()) return v.status();
    int64_t n = 0;
    if (!CanonicalDecimal(*v, sign) || !absl::SimpleAtoi(*v, &n)) {
      return Malformed(name, "not a decimal number in range");
    }
    return n;
  }

  bool done() const { return rest_.empty(); }

 private:
  static absl::Status Malformed(const char* name, const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("the canonical bytes are malformed at ", name, ": ", why));
  }
  absl::string_view rest_;
};

absl::Status Differs(const std::string& booking_id, int64_t sequence, const char* field,
                     const std::string& shown, const std::string& proven) {
  return absl::DataLossError(absl::StrCat("booking ", booking_id, " sequence ", sequence,
                                          ": the entry shows ", field, " ", shown,
                                          " but the proven row holds ", proven));
}

// The metadata shown is the JSON object the row holds (NULL: none shown).
bool SameMetadata(const history::v1::HistoryEntry& entry, const std::optional<std::string>& json) {
  google::protobuf::Struct proven;
  if (json && !google::protobuf::util::JsonStringToMessage(*json, &proven).ok()) return false;
  return google::protobuf::util::MessageDifferencer::Equals(entry.metadata(), proven);
}

}  // namespace

absl::StatusOr<RowContent> ParseCanonical(absl::string_view canonical) {
  if (canonical.substr(0, 4) != "bsh1") {
    return absl::InvalidArgumentError("the canonical bytes do not start with bsh1");
  }
  Reader in(canonical.substr(4));
  RowContent c;
  absl::StatusOr<std::string> event_id = in.Required("event_id");
  if (!event_id.ok()) return event_id.status();
  absl::StatusOr<std::string> booking_id = in.Required("booking_id");
  if (!booking_id.ok()) return booking_id.status();
  absl::StatusOr<int64_t> sequence = in.Number("sequence", false);
  if (!sequence.ok()) return sequence.status();
  absl::StatusOr<std::optional<std::string>> from_status = in.Field("from_status");
  if (!from_status.ok()) return from_status.status();
  absl::StatusOr<std::string> to_status = in.Required("to_status");
  if (!to_status.ok()) return to_status.status();
  absl::StatusOr<std::optional<std::string>> changed_by = in.Field("changed_by");
  if (!changed_by.ok()) return changed_by.status();
  absl::StatusOr<std::optional<std::string>> reason = in.Field("reason");
  if (!reason.ok()) return reason.status();
  absl::StatusOr<std::optional<std::string>> metadata = in.Field("metadata");
  if (!metadata.ok()) return metadata.status();
  absl::StatusOr<int64_t> created = in.Number("created_micros", true);
  if (!created.ok()) return created.status();
  if (!in.done()) return absl::InvalidArgumentError("the canonical bytes go on after the row");
  return RowContent{.event_id = *std::move(event_id),
                    .booking_id = *std::move(booking_id),
                    .sequence = *sequence,
                    .from_status = *std::move(from_status),
                    .to_status = *std::move(to_status),
                    .changed_by = *std::move(changed_by),
                    .reason = *std::move(reason),
                    .metadata = *std::move(metadata),
                    .created_micros = *created,
                    .trace_parent = ""};
}

absl::Status CheckEntryShowsCanonical(const history::v1::HistoryEntry& entry,
                                      absl::string_view canonical) {
  absl::StatusOr<RowContent> row = ParseCanonical(canonical);
  if (!row.ok()) {
    return absl::DataLossError(absl::StrCat("booking ", entry.booking_id(), " sequence ",
                                            entry.sequence(), ": ", row.status().message()));
  }
  const std::string& b = row->booking_id;
  const int64_t s = row->sequence;
  const std::pair<const char*, std::pair<std::string, std::string>> texts[] = {
      {"event_id", {entry.event_id(), row->event_id}},
      {"booking_id", {entry.booking_id(), row->booking_id}},
      {"from_status", {entry.from_status(), row->from_status.value_or("")}},
      {"to_status", {entry.to_status(), row->to_status}},
      {"changed_by", {entry.changed_by(), row->changed_by.value_or("")}},
      {"reason", {entry.reason(), row->reason.value_or("")}},
  };
  for (const auto& [name, values] : texts) {
    if (values.first != values.second) return Differs(b, s, name, values.first, values.second);
  }
  if (entry.sequence() != s) {
    return Differs(b, s, "sequence", absl::StrCat(entry.sequence()), absl::StrCat(s));
  }
  const int64_t shown_micros =
      google::protobuf::util::TimeUtil::TimestampToMicroseconds(entry.create_time());
  if (shown_micros != row->created_micros ||
      entry.create_time().nanos() % 1000 != 0) {  // not a finer time than the row's
    return Differs(b, s, "create_time",
                   google::protobuf::util::TimeUtil::ToString(entry.create_time()),
                   absl::StrCat(row->created_micros, " us"));
  }
  if (!SameMetadata(entry, row->metadata)) {
    return Differs(b, s, "metadata", entry.metadata().ShortDebugString(),
                   row->metadata.value_or("(none)"));
  }
  return absl::OkStatus();
}

}  // namespace booking
