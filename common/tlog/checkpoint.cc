#include "common/tlog/checkpoint.h"

#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tlog/encoding.h"

namespace booking::tlog {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed checkpoint: ", what));
}

// Canonical ASCII decimal: "0", or a nonzero digit then digits, in range.
std::optional<uint64_t> ParseSize(absl::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

absl::StatusOr<std::string> FormatCheckpoint(const Checkpoint& checkpoint) {
  if (absl::Status s = CheckKeyName(checkpoint.origin); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint origin: ", s.message()));
  }
  std::string text = absl::StrCat(checkpoint.origin, "\n", checkpoint.size, "\n",
                                  Base64Encode(HashToBytes(checkpoint.root)), "\n");
  for (const std::string& extension : checkpoint.extensions) {
    if (extension.empty() || extension.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          "a checkpoint extension is one non-empty line with no newline");
    }
    absl::StrAppend(&text, extension, "\n");
  }
  if (absl::Status s = CheckNoteText(text); !s.ok()) return s;
  return text;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  if (absl::Status s = CheckNoteText(text); !s.ok()) return s;
  text.remove_suffix(1);  // the final newline, there by CheckNoteText
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3) {
    return Malformed("it has an origin, a tree size and a root hash line, then extensions");
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) return Malformed(absl::StrCat("line ", i + 1, " is empty"));
  }
  Checkpoint out;
  if (lines[0].front() == ' ' || lines[0].back() == ' ') {
    return Malformed("the origin starts or ends with a space");
  }
  out.origin = std::string(lines[0]);
  const std::optional<uint64_t> size = ParseSize(lines[1]);
  if (!size) {
    return Malformed(absl::StrCat("the tree size \"", lines[1],
                                  "\" is not decimal digits without a leading zero, below 2^64"));
  }
  out.size = *size;
  const std::optional<std::string> root = Base64DecodeStrict(lines[2]);
  if (!root || root->size() != kHashSize) {
    return Malformed("the root hash is not canonical standard base64 of 32 bytes");
  }
  out.root = *HashFromBytes(*root);
  for (size_t i = 3; i < lines.size(); ++i) out.extensions.emplace_back(lines[i]);
  return out;
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& signer) {
  absl::StatusOr<std::string> text = FormatCheckpoint(checkpoint);
  if (!text.ok()) return text.status();
  return SignNote(*text, absl::MakeConstSpan(&signer, 1));
}

absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note,
                                          absl::Span<const NoteVerifier> verifiers) {
  absl::StatusOr<Note> opened = OpenNote(note, verifiers);
  if (!opened.ok()) return opened.status();
  return ParseCheckpoint(opened->text);
}

}  // namespace booking::tlog
