#include "common/tlog/note.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tlog/encoding.h"

namespace booking::tlog {
namespace {

constexpr absl::string_view kSignaturePrefix = "\xE2\x80\x94 ";  // U+2014, space

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed signed note: ", what));
}

// One signature line without its newline.
absl::StatusOr<NoteSignature> ParseSignatureLine(absl::string_view line, size_t number) {
  const std::string where = absl::StrCat("signature line ", number);
  if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
    return Malformed(absl::StrCat(where, " does not start with an em dash (U+2014) and a space"));
  }
  const size_t space = line.find(' ');
  if (space == absl::string_view::npos) {
    return Malformed(absl::StrCat(where, " is not \"— <key name> <base64 signature>\""));
  }
  const absl::string_view name = line.substr(0, space);
  if (absl::Status s = CheckKeyName(name); !s.ok()) {
    return Malformed(absl::StrCat(where, ": ", s.message()));
  }
  const std::optional<std::string> bytes = Base64DecodeStrict(line.substr(space + 1));
  if (!bytes) {
    return Malformed(absl::StrCat(where,
                                  ": the signature is not canonical standard base64 "
                                  "(one space after the name, nothing after the base64)"));
  }
  if (bytes->size() < 5) {
    return Malformed(absl::StrCat(where, ": a signature is a 4-byte key ID and at least 1 byte"));
  }
  NoteSignature sig;
  sig.key_name = std::string(name);
  for (int i = 0; i < 4; ++i) sig.key_id = (sig.key_id << 8) | static_cast<uint8_t>((*bytes)[i]);
  sig.signature = bytes->substr(4);
  return sig;
}

// The verifier among `verifiers` for this name and key ID: nullptr when none.
absl::StatusOr<const NoteVerifier*> Known(absl::Span<const NoteVerifier> verifiers,
                                          const NoteSignature& sig) {
  const NoteVerifier* found = nullptr;
  for (const NoteVerifier& v : verifiers) {
    if (v.name() != sig.key_name || v.key_id() != sig.key_id) continue;
    if (found != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("two trusted keys are ", sig.key_name, "+",
                                                     Hex32(sig.key_id), "; keep one"));
    }
    found = &v;
  }
  return found;
}

}  // namespace

absl::Status CheckNoteText(absl::string_view text) {
  if (text.empty() || text.back() != '\n') return Malformed("the text must end in a newline");
  if (!IsNoteText(text)) {
    return Malformed("not UTF-8, or a control character other than newline");
  }
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.size() > kMaxNoteLineBytes) {
      return Malformed(
          absl::StrCat("a line has ", line.size(), " bytes; at most ", kMaxNoteLineBytes));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Note> ParseNote(absl::string_view note) {
  if (note.size() > kMaxNoteBytes) {
    return Malformed(absl::StrCat(note.size(), " bytes; at most ", kMaxNoteBytes));
  }
  if (absl::Status s = CheckNoteText(note); !s.ok()) return s;
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return Malformed("no blank line between the text and the signatures");
  }
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  absl::string_view lines = note.substr(split + 2);
  if (lines.empty()) return Malformed("no signature after the blank line");
  lines.remove_suffix(1);  // the final newline, there by CheckNoteText
  size_t number = 0;
  for (absl::string_view line : absl::StrSplit(lines, '\n')) {
    if (++number > kMaxNoteSignatures) {
      return Malformed(absl::StrCat("more than ", kMaxNoteSignatures, " signatures"));
    }
    absl::StatusOr<NoteSignature> sig = ParseSignatureLine(line, number);
    if (!sig.ok()) return sig.status();
    out.signatures.push_back(*std::move(sig));
  }
  return out;
}

absl::StatusOr<std::string> SignNote(absl::string_view text, absl::Span<const NoteSigner> signers) {
  if (absl::Status s = CheckNoteText(text); !s.ok()) return s;
  if (signers.empty() || signers.size() > kMaxNoteSignatures) {
    return absl::InvalidArgumentError(
        absl::StrCat("a note is signed by 1 to ", kMaxNoteSignatures, " keys"));
  }
  std::string out = absl::StrCat(text, "\n");
  std::set<std::pair<std::string, uint32_t>> seen;
  for (const NoteSigner& signer : signers) {
    if (!seen.emplace(signer.name(), signer.key_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key ", signer.name(), "+", Hex32(signer.key_id()), " would sign the note twice"));
    }
    const uint32_t id = signer.key_id();
    const char id_bytes[4] = {static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                              static_cast<char>(id >> 8), static_cast<char>(id)};
    absl::StrAppend(&out, kSignaturePrefix, signer.name(), " ",
                    Base64Encode(absl::StrCat(absl::string_view(id_bytes, 4), signer.Sign(text))),
                    "\n");
  }
  return out;
}

absl::StatusOr<Note> OpenNote(absl::string_view note, absl::Span<const NoteVerifier> verifiers) {
  absl::StatusOr<Note> parsed = ParseNote(note);
  if (!parsed.ok()) return parsed.status();
  Note out;
  out.text = parsed->text;
  std::set<std::pair<std::string, uint32_t>> seen;
  for (NoteSignature& sig : parsed->signatures) {
    absl::StatusOr<const NoteVerifier*> known = Known(verifiers, sig);
    if (!known.ok()) return known.status();
    if (*known == nullptr) continue;  // C2SP: ignore unknown keys
    const std::string key = absl::StrCat(sig.key_name, "+", Hex32(sig.key_id));
    if (!seen.emplace(sig.key_name, sig.key_id).second) {
      return Malformed(absl::StrCat("key ", key, " signs twice"));
    }
    if (!(*known)->Verify(out.text, sig.signature)) {
      return absl::UnauthenticatedError(absl::StrCat("invalid signature by key ", key));
    }
    out.signatures.push_back(std::move(sig));
  }
  if (out.signatures.empty()) {
    return absl::UnauthenticatedError("no trusted key signed the note");
  }
  return out;
}

}  // namespace booking::tlog
