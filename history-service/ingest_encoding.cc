#include "history-service/ingest_encoding.h"

#include "absl/strings/str_cat.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/status_catalog.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

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
  return "";
}

}  // namespace

std::string ValidateEvent(const history::v1::StatusChangeEvent& e) {
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
  if (std::string p = CheckTime(e.change_time()); !p.empty()) return p;
  if (auto json = MetadataToJson("metadata", e.metadata()); !json.ok()) return Why(json.status());
  return "";
}

EncodedEvents EncodeEvents(const history::v1::IngestRequest& batch) {
  EncodedEvents out;
  out.refused.resize(batch.events_size());
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  for (int i = 0; i < batch.events_size(); ++i) {
    const history::v1::StatusChangeEvent& e = batch.events(i);
    out.refused[i] = ValidateEvent(e);
    if (!out.refused[i].empty()) continue;
    // Unknown fields dropped, as in MetadataToJson: the JSON writer would
    // leave out a metadata list holding nothing else.
    history::v1::StatusChangeEvent known = e;
    known.DiscardUnknownFields();
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(known, &json, options).ok()) {
      out.refused[i] = "the event cannot be written as JSON";
      continue;
    }
    out.json.push_back(std::move(json));
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
