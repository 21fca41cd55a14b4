// Every limit on what callers may send, in one place: the API refuses input
// beyond them with INVALID_ARGUMENT before anything is committed, and
// history-service checks events against the same numbers, so nothing the
// booking API accepts can later be unstorable in history.
#ifndef BOOKING_COMMON_LIMITS_H_
#define BOOKING_COMMON_LIMITS_H_

#include <cstddef>

namespace booking::limits {

// Identifiers (booking, customer, request ids; changed_by): 1 to 200 bytes of
// visible ASCII, so they print, compare and index the same everywhere.
inline constexpr size_t kMaxIdBytes = 200;
// Free text (reason, description): UTF-8 without NUL.
inline constexpr size_t kMaxTextBytes = 1000;
// Metadata, as compact JSON.
inline constexpr size_t kMaxMetadataJsonBytes = 16 * 1024;
// Metadata as the stores keep it: the jsonb text, with more spaces than the
// compact JSON. The history table's CHECK bounds octet_length(metadata::text)
// by this (migrator/history_schema_steps.cc, 0001_history_base, an applied
// step that keeps its number written out; tests/outbox_test.cc ties the two),
// so booking-service refuses an event over it before commit.
inline constexpr size_t kMaxStoredMetadataBytes = kMaxMetadataJsonBytes;
// Nesting of metadata objects and lists. protobuf's JSON writer stops at 64
// levels of messages (a Struct level costs two: Struct and Value), and a
// history batch wraps each event in two more; 16 leaves room for both.
inline constexpr int kMaxMetadataDepth = 16;
// Page tokens are opaque but short.
inline constexpr size_t kMaxPageTokenBytes = 512;
inline constexpr int kMaxPageSize = 1000;
// A history page also ends once about this many bytes are read (entries
// with large metadata make shorter pages): responses and the results behind
// them stay small, however many calls run at once.
inline constexpr size_t kMaxHistoryPageBytes = 1024 * 1024;

// gRPC messages. A booking request is at most a few ids, 1,000 bytes of text
// and 16 KiB of metadata; the receive limit leaves room for encoding.
inline constexpr int kMaxBookingRequestBytes = 256 * 1024;
// The relay caps an Ingest batch by bytes as well as by count, under the
// receive limit history-service sets for Ingest.
inline constexpr int kMaxIngestBatchBytes = 1024 * 1024;
inline constexpr int kMaxIngestMessageBytes = 4 * 1024 * 1024;

// Open Ingest streams per history-service: --ingest-streams (2 by default)
// per booking-service replica is the norm; more are refused
// (RESOURCE_EXHAUSTED) instead of each holding a server thread.
inline constexpr size_t kMaxIngestStreams = 32;

// WatchHistory: entries queued for one watcher beyond which it is cut off as
// too slow (history-service --watch-buffer; the watcher resumes from its
// token), and watches open at once per history-service.
inline constexpr int kWatchBufferEntries = 1000;
inline constexpr size_t kMaxWatches = 256;

// A logged value longer than this is cut (with its length noted).
inline constexpr size_t kMaxLoggedValueBytes = 512;

}  // namespace booking::limits

#endif  // BOOKING_COMMON_LIMITS_H_
