#include "history-service/ingest_encoding.h"

#include "absl/strings/str_cat.h"
#include "common/input_check.h"
#include "common/json_string.h"
#include "common/limits.h"
#include "common/status_catalog.h"
#include "common/trace_context.h"
#include "google/protobuf/util/time_util.h"
#include "history-service/row_content.h"

namespace booking {
namespace {

using google::protobuf::util::TimeUtil;

// The message of a check's error: "field: what is wrong".
std::string Why(const absl::Status& status) { return std::string(status.message()); }

std::string CheckLabel(absl::string_view field, const std::string& label, bool optional) {
  if (label.empty() && optional) return "";
  if (absl::Status s = CheckText(field, label, limits::kMaxIdBytes); !s.ok()) return Why(s);
  // History keeps the label it was given; it must be one the catalog knows.
  if (!ResolveStoredLabel(label).ok())
    return absl::StrCat(field, ": unknown label \"", label, "\"");
  return "";
}

std::string CheckTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() < TimeUtil::kTimestampMinSeconds ||
      t.seconds() > TimeUtil::kTimestampMaxSeconds || t.nanos() < 0 || t.nanos() > 999999999) {
    return "change_time: outside 0001-01-01 to 9999-12-31";
  }
  // History keeps milliseconds, rounded: the last half millisecond of
  // 9999-12-31 would be stored in year 10000, which no read can answer.
  if (t.seconds() == TimeUtil::kTimestampMaxSeconds && t.nanos() >= 999'500'000) {
    return "change_time: rounds (to the millisecond history keeps) past "
           "9999-12-31T23:59:59.999Z";
  }
  return "";
}

// Every check but the metadata's (which EncodeEvents does once, keeping the
// JSON it makes).
std::string ValidateFields(const history::v1::StatusChangeEvent& e) {
  if (absl::Status s = CheckUuid("event_id", e.event_id()); !s.ok()) return Why(s);
  if (e.booking_id().empty()) return "booking_id: required";
  if (absl::Status s = CheckText("booking_id", e.booking_id(), limits::kMaxIdBytes); !s.ok()) {
    return Why(s);
  }
  if (e.sequence() <= 0) return "sequence: must be positive";
  if (std::string p = CheckLabel("to_status", e.to_status(), false); !p.empty()) return p;
  if (std::string p = CheckLabel("from_status", e.from_status(), true); !p.empty()) return p;
  if (e.changed_by().empty()) return "changed_by: required";
  if (absl::Status s = CheckText("changed_by", e.changed_by(), limits::kMaxIdBytes); !s.ok()) {
    return Why(s);
  }
  if (absl::Status s = CheckText("reason", e.reason()); !s.ok()) return Why(s);
  if (!e.has_change_time()) return "change_time: required";
  if (!e.traceparent().empty() && !ParseTraceparent(e.traceparent())) {
    return "traceparent: not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)";
  }
  return CheckTime(e.change_time());
}

// What PostgreSQL normalizes of an event (ingest_store.h NormalizeEvents:
// its uuid, metadata and time), as a JSON object written directly:
// protobuf's JSON writer (reflection, a stream per message) was the larger
// part of history-service's CPU time per batch. `metadata` is
// MetadataToJson's ("" for none). The other fields are the event's own.
std::string EventJson(const history::v1::StatusChangeEvent& e, const std::string& metadata) {
  std::string json = absl::StrCat("{\"event_id\":", JsonString(e.event_id()), ",\"change_time\":\"",
                                  TimeUtil::ToString(e.change_time()), "\"");
  if (!metadata.empty()) absl::StrAppend(&json, ",\"metadata\":", metadata);
  json += '}';
  return json;
}

}  // namespace

std::string ValidateEvent(const history::v1::StatusChangeEvent& e) {
  if (std::string p = ValidateFields(e); !p.empty()) return p;
  if (auto json = MetadataToJson("metadata", e.metadata()); !json.ok()) return Why(json.status());
  return "";
}

EncodedEvents EncodeEvents(const history::v1::IngestRequest& batch) {
  EncodedEvents out;
  out.refused.resize(batch.events_size());
  out.json.reserve(batch.events_size());
  out.index.reserve(batch.events_size());
  for (int i = 0; i < batch.events_size(); ++i) {
    const history::v1::StatusChangeEvent& e = batch.events(i);
    out.refused[i] = ValidateFields(e);
    if (!out.refused[i].empty()) continue;
    absl::StatusOr<std::string> metadata = MetadataToJson("metadata", e.metadata());
    if (!metadata.ok()) {
      out.refused[i] = Why(metadata.status());
      continue;
    }
    out.json.push_back(EventJson(e, *metadata));
    out.index.push_back(i);
  }
  return out;
}

std::string JsonArray(const EncodedEvents& encoded, const std::vector<int>& which) {
  std::string array = "[";
  for (size_t k = 0; k < which.size(); ++k) {
    if (k > 0) array += ',';
    array += encoded.json[which[k]];
  }
  array += ']';
  return array;
}

}  // namespace booking
