#include "history-verify/log_witness.h"

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/note_key.h"
#include "common/tlog/witness.h"
#include "history-service/log_checkpoint.h"
#include "history-service/log_tree.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

int Say(int code, const std::string& message) {
  (code == 0 ? std::cout : std::cerr) << (code == 1 ? "NOT VERIFIED: " : "") << message << "\n";
  return code;
}

// 3 when the source could not be reached, else `code`.
int SayFailure(int code, const absl::Status& s, const std::string& message) {
  const bool unreachable = absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
  return Say(unreachable ? 3 : code, message);
}

std::string Describe(const tlog::Checkpoint& c) {
  return absl::StrCat("size ", c.size, " root ", tlog::HashToHex(c.root));
}

// Keeps `note` (checkpoint `next`) in the witness file when the source
// proves that it extends `trusted`.
int Extend(LogSource& source, const tlog::Checkpoint& trusted, const tlog::Checkpoint& next,
           const std::string& note, const std::vector<tlog::NoteVerifier>& verifiers,
           const std::string& witness_file) {
  std::vector<tlog::Hash> proof;
  if (trusted.size > 0 && trusted.size < next.size) {
    absl::StatusOr<std::vector<tlog::Hash>> p = source.ConsistencyProof(trusted.size, next.size);
    if (!p.ok()) {
      return SayFailure(1, p.status(),
                        absl::StrCat("the log checkpoint of ", Describe(next),
                                     " does not extend the witnessed one of ", Describe(trusted),
                                     ": ", source.Name(), " gives no consistency proof (",
                                     p.status().message(), "); ", witness_file, " is unchanged"));
    }
    proof = *std::move(p);
  }
  absl::StatusOr<tlog::Checkpoint> checked =
      tlog::CheckNextCheckpoint(trusted, note, proof, verifiers);
  if (!checked.ok()) {
    return Say(1, absl::StrCat("the log checkpoint of ", Describe(next),
                               " does not extend the witnessed one of ", Describe(trusted), ": ",
                               checked.status().message(), "; ", witness_file, " is unchanged"));
  }
  if (absl::Status s = tlog::StoreTrustedCheckpoint(witness_file, note); !s.ok()) {
    return Say(2, std::string(s.message()));
  }
  return Say(0, absl::StrCat("verified: the log checkpoint of ", Describe(*checked),
                             " extends the witnessed one of size ", trusted.size, "; kept in ",
                             witness_file));
}

}  // namespace

absl::StatusOr<std::optional<std::string>> StoreLogSource::NewestNote() {
  absl::StatusOr<std::optional<LogCheckpoint>> newest = NewestLogCheckpoint(txn_);
  if (!newest.ok()) return newest.status();
  if (!*newest) return std::nullopt;
  return (*newest)->note;
}

absl::StatusOr<std::vector<tlog::Hash>> StoreLogSource::ConsistencyProof(uint64_t old_size,
                                                                         uint64_t new_size) {
  return StoredConsistencyProof(txn_, old_size, new_size);
}

int WitnessLog(LogSource& source, const std::string& public_key, const std::string& witness_file) {
  absl::StatusOr<std::optional<std::string>> newest = source.NewestNote();
  if (!newest.ok()) return SayFailure(2, newest.status(), std::string(newest.status().message()));
  if (!*newest) {
    return Say(2, absl::StrCat(source.Name(),
                               " holds no log checkpoint yet: run history-service with "
                               "--checkpoint-key and wait one --log-checkpoint-interval"));
  }
  const std::string& note = **newest;
  const std::string origin = note.substr(0, note.find('\n'));
  absl::StatusOr<tlog::NoteVerifier> verifier =
      tlog::NoteVerifier::FromPublicKey(origin, public_key);
  if (!verifier.ok())
    return Say(1, absl::StrCat("the log's origin \"", origin, "\": ", verifier.status().message()));
  const std::vector<tlog::NoteVerifier> verifiers = {*verifier};
  absl::StatusOr<tlog::Checkpoint> next = tlog::OpenCheckpoint(note, verifiers);
  if (!next.ok()) {
    return Say(1, absl::StrCat("the newest log checkpoint does not verify with the public key: ",
                               next.status().message()));
  }
  absl::StatusOr<tlog::Checkpoint> trusted = tlog::LoadTrustedCheckpoint(witness_file, verifiers);
  if (absl::IsNotFound(trusted.status())) {
    if (absl::Status s = tlog::StoreTrustedCheckpoint(witness_file, note); !s.ok()) {
      return Say(2, std::string(s.message()));
    }
    return Say(0, absl::StrCat("trusted as the first: the log checkpoint of ", Describe(*next),
                               " (", origin, "), kept in ", witness_file));
  }
  if (!trusted.ok()) {
    return Say(2,
               absl::StrCat("the witness file ", witness_file,
                            " holds no checkpoint this key signed: ", trusted.status().message()));
  }
  return Extend(source, *trusted, *next, note, verifiers, witness_file);
}

int WitnessStoreLog(pqxx::connection& conn, const std::string& public_key,
                    const std::string& witness_file) {
  pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> txn(
      conn);
  StoreLogSource source(txn);
  return WitnessLog(source, public_key, witness_file);
}

}  // namespace booking
