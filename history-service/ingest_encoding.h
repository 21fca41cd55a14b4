// An ingest batch, checked and encoded event by event for the history table:
// an event that cannot be stored, for whatever reason, is refused on its own
// (with the reason) and never takes the rest of its batch with it.
#ifndef HISTORY_SERVICE_INGEST_ENCODING_H_
#define HISTORY_SERVICE_INGEST_ENCODING_H_

#include <string>
#include <vector>

#include "history/v1/history.pb.h"

namespace booking {

// Why an event cannot be stored, or "" when it can. The limits are the
// booking API's (common/limits.h), except that ids need only be text:
// history keeps what the booking store holds, also rows old code wrote.
std::string ValidateEvent(const history::v1::StatusChangeEvent& event);

struct EncodedEvents {
  // Per event of the batch, in order: "" when encoded, else why refused.
  std::vector<std::string> refused;
  // The encoded events, as proto3 JSON objects of what PostgreSQL
  // normalizes (event_id, change_time RFC 3339, metadata; ingest_store.h
  // NormalizeEvents), in batch order.
  std::vector<std::string> json;
  std::vector<int> index;  // json[k] is the batch's event index[k]
};

EncodedEvents EncodeEvents(const history::v1::IngestRequest& batch);

// A JSON array of some encoded events, for jsonb_to_recordset.
std::string JsonArray(const EncodedEvents& encoded, const std::vector<int>& which);

}  // namespace booking

#endif  // HISTORY_SERVICE_INGEST_ENCODING_H_
