// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
// a change carries from the caller's metadata through the outbox, the ingest
// stream and the history row into every log line about it, so that one trace
// id finds the change's whole journey across both services.
#ifndef BOOKING_COMMON_TRACE_CONTEXT_H_
#define BOOKING_COMMON_TRACE_CONTEXT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace booking {

struct TraceContext {
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string parent_id;  // 16 lowercase hex digits, not all zero: the span
  std::string flags;      // 2 lowercase hex digits ("01": sampled)

  // "00-<trace_id>-<parent_id>-<flags>".
  std::string ToTraceparent() const;
};

// The header's value parsed as the specification says: version 00 exactly,
// a later version by its first four fields (the rest ignored); nullopt when
// it is malformed (then a receiver starts a new trace).
std::optional<TraceContext> ParseTraceparent(absl::string_view value);

// This service's span of `parent`'s trace (a new span id, the same trace id
// and flags), or the root of a new, unsampled ("00") trace when there is no
// valid parent.
TraceContext ChildOf(const std::optional<TraceContext>& parent);

// Whether `traceparent` is a valid one with its sampled flag set.
bool IsSampled(absl::string_view traceparent);

}  // namespace booking

#endif  // BOOKING_COMMON_TRACE_CONTEXT_H_
