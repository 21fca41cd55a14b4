// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text a
// transparency log signs for its tree head,
//   <origin>\n<tree size in decimal>\n<base64 root hash>\n[<extension>\n...]
// signed as a C2SP signed note (common/tlog/note.h).
//
// Parsing is strict (default deny), kInvalidArgument naming the fault: fewer
// than three lines, an empty line, an origin with a leading or trailing
// space, a size that is not canonical decimal (no sign, no leading zero but
// "0" itself, no overflow), a root that is not canonical base64 of 32 bytes,
// text that is not note text (see CheckNoteText).
// Thread safety: pure functions, callable from any thread.
#ifndef BOOKING_COMMON_TLOG_CHECKPOINT_H_
#define BOOKING_COMMON_TLOG_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/tlog/merkle.h"
#include "common/tlog/note.h"

namespace booking::tlog {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // opaque; NOT RECOMMENDED by C2SP
};

// The note text of `checkpoint`. The origin must be a key name (CheckKeyName:
// the log signs under its origin); extensions non-empty, one line each.
absl::StatusOr<std::string> FormatCheckpoint(const Checkpoint& checkpoint);
// The checkpoint in a note text.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

// The signed note of `checkpoint` by `signer`.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer);
// The checkpoint of a signed note that OpenNote accepts with `verifiers`.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note,
                                          absl::Span<const NoteVerifier> verifiers);

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_CHECKPOINT_H_
