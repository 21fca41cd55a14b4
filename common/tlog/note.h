// C2SP signed notes (https://c2sp.org/signed-note): a text ending in a
// newline, a blank line, then one signature line per key,
//   "— <key name> <base64(4-byte big-endian key ID || signature)>\n"
// (U+2014 em dash, one space each side of the name). The text is what is
// signed; it may hold empty lines, and the signatures start after the last
// one.
//
// Parsing is strict (default deny) and refuses, as kInvalidArgument with a
// message naming the fault: invalid UTF-8 or a control character other than
// newline, no blank line before the signatures, a missing final newline, a
// line over kMaxNoteLineBytes or a note over kMaxNoteBytes, more than
// kMaxNoteSignatures signature lines, a line not exactly in the form above
// (extra spaces, a bad key name, base64 that is not canonical), a signature
// shorter than its key ID plus one byte.
// OpenNote verifies with trusted keys: as C2SP requires, signatures by keys
// it does not know are skipped (cosigners, rotated keys); a signature by a
// known key must verify, each known key signs at most once, and at least one
// known key must have signed (kUnauthenticated otherwise).
// Thread safety: pure functions, callable from any thread.
#ifndef BOOKING_COMMON_TLOG_NOTE_H_
#define BOOKING_COMMON_TLOG_NOTE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/tlog/note_key.h"

namespace booking::tlog {

inline constexpr size_t kMaxNoteBytes = 32 * 1024;
inline constexpr size_t kMaxNoteLineBytes = 1024;
// C2SP: verifiers MUST accept at least 16 signatures.
inline constexpr size_t kMaxNoteSignatures = 16;

struct NoteSignature {
  std::string key_name;
  uint32_t key_id = 0;
  std::string signature;  // the signature bytes after the key ID
};

struct Note {
  std::string text;  // ends in a newline
  std::vector<NoteSignature> signatures;
};

// OK when `text` can be the text of a note: non-empty, ending in a newline,
// note characters, no line over kMaxNoteLineBytes.
absl::Status CheckNoteText(absl::string_view text);

// The note's parts, signatures unverified.
absl::StatusOr<Note> ParseNote(absl::string_view note);

// `text`, a blank line and one signature line per signer, in order.
absl::StatusOr<std::string> SignNote(absl::string_view text, absl::Span<const NoteSigner> signers);

// The note with only the signatures by `verifiers` (all verified), or an
// error: kInvalidArgument when malformed or when two verifiers share a name
// and key ID, kUnauthenticated when a known key's signature does not verify or
// no known key signed.
absl::StatusOr<Note> OpenNote(absl::string_view note, absl::Span<const NoteVerifier> verifiers);

}  // namespace booking::tlog

#endif  // BOOKING_COMMON_TLOG_NOTE_H_
