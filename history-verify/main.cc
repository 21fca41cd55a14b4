// history-verify: proves offline that the history store was not altered, or
// names the first row that was (booking and sequence).
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/pg.h"
#include "common/store_schema.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/note_key.h"
#include "common/tls.h"
#include "grpcpp/create_channel.h"
#include "history-service/checkpoint.h"
#include "history-service/log_checkpoint.h"
#include "history-service/row_content.h"
#include "history-verify/log_audit.h"
#include "history-verify/log_source_grpc.h"
#include "history-verify/log_witness.h"
#include "history-verify/store_verify.h"
#include "pqxx/pqxx"

ABSL_FLAG(std::string, out, "", "keygen: the key file to write (its public key goes to FILE.pub)");
ABSL_FLAG(std::string, database_url, "",
          "the history store, a libpq URL [env HISTORY_DATABASE_URL]");
ABSL_FLAG(std::string, database_schema, "", "the schema holding \"BookingStatusHistory\"");
ABSL_FLAG(std::string, public_key, "", "file holding the checkpoint signer's public key (hex)");
ABSL_FLAG(std::string, checkpoint, "",
          "verify: the trusted checkpoint, a file holding what `history-verify checkpoint` "
          "printed (a log note, or a heads line) or the line itself [default: the newest in the "
          "store, signature checked]");
ABSL_FLAG(std::string, booking, "", "verify: only this booking");
ABSL_FLAG(std::string, witness, "",
          "log: the file holding the last log checkpoint this witness trusts (created on first "
          "use)");
ABSL_FLAG(std::string, server, "",
          "log: ask history-service at HOST:PORT over gRPC instead of reading the store (with "
          "--tls-ca/--tls-cert/--tls-key or --insecure-plaintext)");
ABSL_FLAG(std::string, token, "",
          "log --server: a bearer token for history-service [env HISTORY_VERIFY_TOKEN]");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "log --server: the longest wait per call");

namespace booking {
namespace {

constexpr char kUsage[] = R"(proves that history was not altered, or names where it was.

  history-verify keygen --out KEY
      writes a new Ed25519 seed to KEY (mode 0600; history-service --checkpoint-key KEY)
      and its public key to KEY.pub
  history-verify checkpoint --database-url URL --public-key KEY.pub
      prints the log's newest checkpoint (a signed note), its signature checked: keep it
      outside the store (on a store with only the older heads checkpoints: their line)
  history-verify verify --database-url URL [--public-key KEY.pub [--checkpoint FILE|LINE]]
                        [--booking ID]
      checks every row's hash chain and, with --public-key, against the trusted log
      checkpoint (FILE, else the store's newest) that every entry it covers is still the
      row it logged and that the entries give its signed root (and the newest heads
      checkpoint's heads, where the store has one); prints each row that does not verify
      (booking, sequence, why). Without --public-key the chains alone are checked: an
      edited, inserted or reordered row is found, a deleted last row or a rewrite that
      recomputes every later hash is not (a signed checkpoint finds those)
  history-verify log --database-url URL --public-key KEY.pub --witness FILE
      checks the log's newest signed checkpoint (C2SP tlog-checkpoint over the Merkle tree
      of every row) and proves from the store that it extends the one FILE holds, then keeps
      it in FILE; a rolled-back or forked log is refused and FILE left unchanged. Run it
      from somewhere the store's writers cannot change FILE (first run: trusts what it sees)
  history-verify log --server HOST:PORT (--tls-ca CA [--tls-cert C --tls-key K] |
                     --insecure-plaintext) [--token T] --public-key KEY.pub --witness FILE
      the same checks with the checkpoint and the consistency proof asked of history-service
      (GetLogCheckpoint, GetConsistencyProof): for a witness without access to the store

Exit codes: 0 verified, 1 tampering found, 2 usage or setup error, 3 store or server
unreachable.)";

int Fail(int code, const std::string& message) {
  std::cerr << "history-verify: " << message << "\n";
  return code;
}

std::string DatabaseUrl() {
  std::string url = absl::GetFlag(FLAGS_database_url);
  if (url.empty() && std::getenv("HISTORY_DATABASE_URL") != nullptr) {
    url = std::getenv("HISTORY_DATABASE_URL");
  }
  return url;
}

// What --checkpoint gives: a line, or the contents of the file it names.
std::string GivenCheckpoint() {
  std::string given = absl::GetFlag(FLAGS_checkpoint);
  if (given.empty()) return given;
  if (std::ifstream in(given); in) {
    std::stringstream text;
    text << in.rdbuf();
    given = text.str();
  }
  return given;
}

// A signed note (a log checkpoint) holds a blank line before its signatures.
bool IsNote(const std::string& text) { return text.find("\n\n") != std::string::npos; }

// The log checkpoint `note` opened with `public_key` under the note's own
// origin (the key is the log's: a note of another origin does not verify).
absl::StatusOr<tlog::Checkpoint> OpenLogNote(const std::string& note,
                                             const std::string& public_key) {
  const std::string origin = note.substr(0, note.find('\n'));
  absl::StatusOr<tlog::NoteVerifier> verifier =
      tlog::NoteVerifier::FromPublicKey(origin, public_key);
  if (!verifier.ok()) return absl::PermissionDeniedError(verifier.status().message());
  absl::StatusOr<tlog::Checkpoint> c = tlog::OpenCheckpoint(note, {*verifier});
  if (!c.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the log checkpoint does not verify with the public key: not signed by "
                     "that key, or altered (",
                     c.status().message(), ")"));
  }
  return c;
}

// The checkpoints verify trusts, their signatures checked: the one given
// (a heads line or a log note), else the store's newest of each kind.
struct TrustedCheckpoints {
  std::optional<history::v1::Checkpoint> heads;  // the older kind, whose signing costs O(store)
  std::optional<tlog::Checkpoint> log;
  std::string log_note;
};

absl::StatusOr<TrustedCheckpoints> Trusted(pqxx::transaction_base& txn,
                                           const std::string& public_key) {
  TrustedCheckpoints t;
  const std::string given = GivenCheckpoint();
  if (IsNote(given)) {
    t.log_note = given;
  } else if (!given.empty()) {
    absl::StatusOr<history::v1::Checkpoint> parsed = ParseCheckpointLine(given);
    if (!parsed.ok()) return parsed.status();
    t.heads = *parsed;
  } else {
    t.heads = NewestCheckpoint(txn);
    absl::StatusOr<std::optional<LogCheckpoint>> newest = NewestLogCheckpoint(txn);
    if (!newest.ok()) return newest.status();
    if (*newest) t.log_note = (*newest)->note;
  }
  if (!t.log_note.empty()) {
    absl::StatusOr<tlog::Checkpoint> log = OpenLogNote(t.log_note, public_key);
    if (!log.ok()) return log.status();
    t.log = *log;
  }
  if (t.heads && !SignatureValid(*t.heads, public_key)) {
    return absl::PermissionDeniedError(
        "the checkpoint's signature does not verify with the public key: not signed by that key, "
        "or altered");
  }
  if (!t.heads && !t.log) {
    return absl::FailedPreconditionError(
        "the store holds no checkpoint yet: run history-service with --checkpoint-key and "
        "wait one --log-checkpoint-interval, or verify without --public-key to check the hash "
        "chains alone");
  }
  return t;
}

// Prints the findings and the verdict; the exit code.
int Report(const StoreReport& report, const TrustedCheckpoints* trusted) {
  for (const Finding& f : report.findings) {
    std::cout << "NOT VERIFIED: booking " << (f.booking_id.empty() ? "-" : f.booking_id)
              << " sequence " << f.sequence << ": " << f.problem << "\n";
  }
  std::cout << (report.findings.empty() ? "verified: " : "tampered: ") << report.rows << " rows of "
            << report.bookings << " bookings";
  if (trusted == nullptr) {
    std::cout << ", hash chains only (no --public-key): a deleted last row, or a rewrite "
                 "that recomputes every later hash of a booking, needs a signed checkpoint to "
                 "be seen\n";
    return report.findings.empty() ? 0 : 1;
  }
  if (trusted->log) {
    std::cout << " checked against the log checkpoint of " << trusted->log->size << " entries ("
              << trusted->log->origin << ")";
  }
  if (trusted->heads) {
    std::cout << (trusted->log ? " and" : "") << " checked against the checkpoint of "
              << trusted->heads->row_count() << " rows signed at "
              << trusted->heads->signed_at_micros() << " (microseconds since 1970)";
  }
  std::cout << "\n";
  return report.findings.empty() ? 0 : 1;
}

// `public_key` empty: the chains alone.
int Verify(pqxx::connection& conn, const std::string& public_key, bool print_only) {
  pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> txn(
      conn);
  std::optional<TrustedCheckpoints> trusted;
  if (!public_key.empty()) {
    absl::StatusOr<TrustedCheckpoints> checked = Trusted(txn, public_key);
    if (!checked.ok()) {
      return Fail(absl::IsPermissionDenied(checked.status()) ? 1 : kExitUsage,
                  std::string(checked.status().message()));
    }
    trusted = *std::move(checked);
  }
  if (print_only) {
    // The log's note when there is one (what verify --checkpoint FILE takes).
    std::cout << (trusted->log ? trusted->log_note : CheckpointLine(*trusted->heads) + "\n");
    return 0;
  }
  const std::string booking_flag = absl::GetFlag(FLAGS_booking);
  const std::optional<std::string> booking =
      booking_flag.empty() ? std::nullopt : std::optional<std::string>(booking_flag);
  StoreReport report =
      VerifyStore(txn, trusted && trusted->heads ? &*trusted->heads : nullptr, booking);
  if (trusted && trusted->log) {
    absl::StatusOr<LogAudit> audit = AuditLog(txn, *trusted->log, booking, 100);
    if (!audit.ok()) return Fail(3, std::string(audit.status().message()));
    for (Finding& f : audit->findings) report.findings.push_back(std::move(f));
  }
  return Report(report, trusted ? &*trusted : nullptr);
}

// "" when the flags name one source of the log, else what is wrong: --server
// is the witness's alone, never beside --database-url (which would be
// ignored), and --token and --timeout are for it only.
std::string SourceFlagsProblem(const std::string& command, bool over_grpc) {
  if (over_grpc && command != "log") {
    return absl::StrCat("--server is for `log` only; ", command,
                        " reads the store (--database-url)");
  }
  if (over_grpc && !absl::GetFlag(FLAGS_database_url).empty()) {
    return "--server and --database-url name two sources of the log: give one";
  }
  if (!over_grpc && !absl::GetFlag(FLAGS_token).empty()) {
    return "--token is for `log --server` (history-service's bearer token)";
  }
  if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) {
    return absl::StrCat("--timeout must be above 0 (got ",
                        absl::FormatDuration(absl::GetFlag(FLAGS_timeout)), ")");
  }
  return "";
}

// `log --server`: the witness over gRPC, transport security as the
// services' clients take it.
int WitnessOverGrpc(const std::string& public_key) {
  absl::StatusOr<TlsSettings> tls = TlsSettingsFromFlags("HISTORY_VERIFY");
  if (!tls.ok()) return Fail(kExitUsage, std::string(tls.status().message()));
  const std::string target = absl::GetFlag(FLAGS_server);
  GrpcLogSource source(grpc::CreateChannel(target, ChannelCredentialsFor(*tls)), target,
                       FlagOrEnv(FLAGS_token, "HISTORY_VERIFY_TOKEN"),
                       absl::GetFlag(FLAGS_timeout));
  return WitnessLog(source, public_key, absl::GetFlag(FLAGS_witness));
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args = ParseCommandLine(argc, argv, kUsage);
  if (args.size() != 2)
    return Fail(kExitUsage, "name one command: keygen, checkpoint, verify or log (--help)");
  const std::string command = args[1];
  if (command == "keygen") {
    if (absl::GetFlag(FLAGS_out).empty()) return Fail(kExitUsage, "keygen needs --out FILE");
    absl::Status s = WriteKeyPair(absl::GetFlag(FLAGS_out));
    if (!s.ok()) return Fail(kExitUsage, std::string(s.message()));
    std::cout << "wrote " << absl::GetFlag(FLAGS_out) << " and " << absl::GetFlag(FLAGS_out)
              << ".pub\n";
    return 0;
  }
  if (command != "checkpoint" && command != "verify" && command != "log") {
    return Fail(kExitUsage, absl::StrCat("unknown command \"", command, "\"; see --help"));
  }
  const bool over_grpc = !absl::GetFlag(FLAGS_server).empty();
  if (std::string problem = SourceFlagsProblem(command, over_grpc); !problem.empty()) {
    return Fail(kExitUsage, problem);
  }
  if (!over_grpc && DatabaseUrl().empty())
    return Fail(kExitUsage, "--database-url (or HISTORY_DATABASE_URL) is required");
  std::string public_key;
  if (absl::GetFlag(FLAGS_public_key).empty()) {
    if (command == "checkpoint" || command == "log") {
      return Fail(kExitUsage, absl::StrCat(command, " needs --public-key FILE"));
    }
    if (!absl::GetFlag(FLAGS_checkpoint).empty()) {
      return Fail(kExitUsage, "--checkpoint needs --public-key FILE (its signature is checked)");
    }
  } else {
    absl::StatusOr<std::string> loaded = LoadPublicKey(absl::GetFlag(FLAGS_public_key));
    if (!loaded.ok()) return Fail(kExitUsage, std::string(loaded.status().message()));
    public_key = *std::move(loaded);
  }
  if (command == "log" && absl::GetFlag(FLAGS_witness).empty()) {
    return Fail(kExitUsage, "log needs --witness FILE (the last checkpoint this witness trusts)");
  }
  if (over_grpc) return WitnessOverGrpc(public_key);
  const std::string schema = absl::GetFlag(FLAGS_database_schema);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn =
      Connect(DatabaseUrl(),
              [&](pqxx::connection& c) { UseStoreSchema(c, "BookingStatusHistory", schema); });
  if (!conn.ok()) return Fail(3, std::string(conn.status().message()));
  try {
    if (command == "log") {
      return WitnessStoreLog(**conn, public_key, absl::GetFlag(FLAGS_witness));
    }
    return Verify(**conn, public_key, command == "checkpoint");
  } catch (const std::exception& e) {
    return Fail(3, e.what());
  }
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) { return booking::Main(argc, argv); }
