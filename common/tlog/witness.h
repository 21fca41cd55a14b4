// A witness of one transparency log: it keeps the last checkpoint it trusts
// in a file and moves forward only to a checkpoint that is signed by a
// trusted key, of the same origin, no smaller, and proved consistent with the
// trusted one (RFC 9162 consistency proof). A log that forks or rolls back
// is refused, and the trusted file is never changed by a refusal.
//
// Errors: kInvalidArgument for a malformed note, checkpoint or proof;
// kUnauthenticated for a signature that does not verify or no trusted key;
// kFailedPrecondition for another origin or a smaller tree (rollback);
// kDataLoss when the proof does not hold (a fork: the log rewrote history);
// kNotFound when the trusted file does not exist (the caller decides how to
// trust a first checkpoint).
// Thread safety: pure functions apart from the file; callers serialize
// access to one trusted file.
#ifndef BOOKING_COMMON_TLOG_WITNESS_H_
#define BOOKING_COMMON_TLOG_WITNESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "common/tlog/note_key.h"

namespace booking::tlog {

// The checkpoint `next_note` when it may follow `trusted` (see above).
absl::StatusOr<Checkpoint> CheckNextCheckpoint(const Checkpoint& trusted,
                                               absl::string_view next_note,
                                               absl::Span<const Hash> consistency_proof,
                                               absl::Span<const NoteVerifier> verifiers);

// The signed checkpoint kept at `path`, verified again with `verifiers`.
absl::StatusOr<Checkpoint> LoadTrustedCheckpoint(const std::string& path,
                                                 absl::Span<const NoteVerifier> verifiers);
// Replaces the file at `path` with `note` atomically: a temporary file in the
// same directory, fsync, rename over `path`, fsync of the directory.
absl::Status StoreTrustedCheckpoint(const std::string& path, absl::string_view note);

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_WITNESS_H_
