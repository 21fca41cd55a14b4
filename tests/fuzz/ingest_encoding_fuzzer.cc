// Ingest validation and the history store's batch encoding
// (history-service/ingest_encoding.h): every event is either refused on its
// own, with a reason, or encoded as JSON that PostgreSQL can take (no \u0000)
// and that reads back as the event's fields PostgreSQL normalizes (event id,
// change time, metadata); the batch array holds them all in order.
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "history-service/ingest_encoding.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using booking::fuzz::Require;

// True when the JSON text holds the escape \u0000 (PostgreSQL's jsonb and
// text cannot hold NUL): escapes are read pairwise, so "\\u0000" (an escaped
// backslash, then "u0000") does not count.
bool HoldsNulEscape(const std::string& json) {
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) continue;
    if (json.compare(i + 1, 5, "u0000") == 0) return true;
    ++i;  // the escaped character
  }
  return false;
}

std::string StringField(const google::protobuf::Value& object, const std::string& name) {
  if (!object.has_struct_value()) return "<not an object>";
  const auto& fields = object.struct_value().fields();
  auto it = fields.find(name);
  if (it == fields.end()) return "";  // proto3 JSON leaves empty strings out
  return it->second.has_string_value() ? it->second.string_value() : "<not a string>";
}

// Each event either refused with ValidateEvent's reason or encoded, in
// batch order.
void CheckIndexes(const history::v1::IngestRequest& batch, const booking::EncodedEvents& encoded) {
  const size_t n = static_cast<size_t>(batch.events_size());
  std::vector<bool> encoded_at(n, false);
  for (size_t k = 0; k < encoded.index.size(); ++k) {
    const int i = encoded.index[k];
    Require(i >= 0 && static_cast<size_t>(i) < n, "indexes are positions in the batch");
    Require(k == 0 || encoded.index[k - 1] < i, "encoded events keep batch order");
    encoded_at[i] = true;
  }
  for (size_t i = 0; i < n; ++i) {
    Require(encoded.refused[i].empty() == encoded_at[i],
            "an event is refused (with a reason) exactly when it is not encoded");
    Require(encoded.refused[i] == booking::ValidateEvent(batch.events(static_cast<int>(i))),
            "an event ValidateEvent accepts is encoded, and a refusal is ValidateEvent's reason",
            encoded.refused[i]);
  }
}

// Each encoded event parses back to its source event.
void CheckReadsBack(const history::v1::IngestRequest& batch,
                    const booking::EncodedEvents& encoded) {
  for (size_t k = 0; k < encoded.json.size(); ++k) {
    const std::string& json = encoded.json[k];
    Require(!HoldsNulEscape(json), "no encoded event holds \\u0000", json);
    history::v1::StatusChangeEvent back;
    const auto parsed = google::protobuf::util::JsonStringToMessage(json, &back);
    Require(parsed.ok(), "an encoded event parses back", parsed.ToString());
    // The fields PostgreSQL normalizes (ingest_store.h NormalizeEvents: the
    // rest are taken from the event itself), its metadata as fuzz_support.h
    // allows.
    const history::v1::StatusChangeEvent& source = batch.events(encoded.index[k]);
    history::v1::StatusChangeEvent expected;
    expected.set_event_id(source.event_id());
    *expected.mutable_change_time() = source.change_time();
    expected.DiscardUnknownFields();
    history::v1::StatusChangeEvent back_fields = back;
    back_fields.clear_metadata();
    std::string diff;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&diff);
    Require(differencer.Compare(expected, back_fields) &&
                booking::fuzz::ReadsBackAs(source.metadata(), back.metadata(), &diff),
            "an encoded event reads back unchanged", diff + "  json: " + json);
  }
}

// The batch's JSON array holds every encoded event, in order.
void CheckArray(const history::v1::IngestRequest& batch, const booking::EncodedEvents& encoded) {
  std::vector<int> all(encoded.json.size());
  std::iota(all.begin(), all.end(), 0);
  const std::string array = booking::JsonArray(encoded, all);
  google::protobuf::ListValue list;
  const auto parsed = google::protobuf::util::JsonStringToMessage(array, &list);
  Require(parsed.ok(), "the batch's JSON array parses", parsed.ToString());
  Require(static_cast<size_t>(list.values_size()) == encoded.json.size(),
          "the batch's JSON array holds every encoded event");
  for (int k = 0; k < list.values_size(); ++k) {
    const auto& source = batch.events(encoded.index[k]);
    Require(StringField(list.values(k), "event_id") == source.event_id(),
            "each array element has its source event's event_id");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  booking::fuzz::QuietProtobuf();
  history::v1::IngestRequest batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;

  const booking::EncodedEvents encoded = booking::EncodeEvents(batch);
  const size_t n = static_cast<size_t>(batch.events_size());
  Require(encoded.refused.size() == n, "one refusal slot per event");
  Require(encoded.json.size() == encoded.index.size(), "one index per encoded event");

  CheckIndexes(batch, encoded);
  CheckReadsBack(batch, encoded);
  CheckArray(batch, encoded);
  return 0;
}
