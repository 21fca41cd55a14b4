#include "history-service/checkpoint.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/json_string.h"
#include "common/log.h"
#include "history-service/row_content.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

absl::StatusOr<std::string> ReadHexFile(const std::string& path, size_t bytes,
                                        const std::string& what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " file ", path));
  std::stringstream text;
  text << in.rdbuf();
  std::optional<std::string> raw = FromHex(std::string(absl::StripAsciiWhitespace(text.str())));
  if (!raw || raw->size() != bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, " must hold ", bytes, " bytes in hex (", bytes * 2,
                     " hex digits); make one with `history-verify keygen --out FILE`"));
  }
  return *raw;
}

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The select list of "HistoryCheckpoint" that FromRow reads.
constexpr char kCheckpointColumns[] =
    R"(id AS id, "rowCount" AS row_count, "bookingCount" AS booking_count, root AS root,
       "signedAtMicros" AS signed_at_micros, "publicKey" AS public_key, signature AS signature)";

history::v1::Checkpoint FromRow(const pqxx::row& row) {
  history::v1::Checkpoint c;
  c.set_id(row["id"].as<int64_t>());
  c.set_row_count(row["row_count"].as<int64_t>());
  c.set_booking_count(row["booking_count"].as<int64_t>());
  c.set_root(pqxx::binarystring(row["root"]).str());
  c.set_signed_at_micros(row["signed_at_micros"].as<int64_t>());
  c.set_public_key(pqxx::binarystring(row["public_key"]).str());
  c.set_signature(pqxx::binarystring(row["signature"]).str());
  return c;
}

// Where a result holds heads (columns booking_id, sequence, row_hash): found
// once per result, for each of its many rows.
struct HeadLayout {
  explicit HeadLayout(const pqxx::result& r)
      : booking_id(r.column_number("booking_id")),
        sequence(r.column_number("sequence")),
        row_hash(r.column_number("row_hash")) {}

  Head Read(const pqxx::row& row) const {
    return {row[booking_id].as<std::string>(), row[sequence].as<int64_t>(),
            pqxx::binarystring(row[row_hash]).str()};
  }

  pqxx::row_size_type booking_id, sequence, row_hash;
};

// The first booking whose head at checkpoint `id` is no longer in the store
// with the hash signed.
std::optional<Head> FirstAlteredHead(pqxx::transaction_base& txn, int64_t id) {
  pqxx::result r = txn.exec_params(R"(
      WITH signed AS (
        SELECT DISTINCT ON ("bookingId") "bookingId", sequence, "rowHash"
        FROM "HistoryCheckpointHead" WHERE "checkpointId" <= $1
        ORDER BY "bookingId", "checkpointId" DESC)
      SELECT s."bookingId" AS booking_id, s.sequence AS sequence FROM signed s
      LEFT JOIN "BookingStatusHistory" h
        ON h."bookingId" = s."bookingId" AND h.sequence = s.sequence
      WHERE h."rowHash" IS DISTINCT FROM s."rowHash"
      ORDER BY 1 LIMIT 1)",
                                   id);
  if (r.empty()) return std::nullopt;
  return Head{r.front()["booking_id"].as<std::string>(), r.front()["sequence"].as<int64_t>(), ""};
}

}  // namespace

absl::StatusOr<SigningKey> LoadSigningKey(const std::string& path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium cannot start");
  absl::StatusOr<std::string> seed = ReadHexFile(path, crypto_sign_SEEDBYTES, "checkpoint key");
  if (!seed.ok()) return seed.status();
  SigningKey key;
  key.secret.resize(crypto_sign_SECRETKEYBYTES);
  key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(key.public_key.data()),
                           reinterpret_cast<unsigned char*>(key.secret.data()), U(*seed));
  return key;
}

absl::StatusOr<std::string> LoadPublicKey(const std::string& path) {
  return ReadHexFile(path, crypto_sign_PUBLICKEYBYTES, "public key");
}

absl::Status WriteKeyPair(const std::string& path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium cannot start");
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0'), sk(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                           reinterpret_cast<unsigned char*>(sk.data()), U(seed));
  {
    const mode_t old = umask(077);
    std::ofstream out(path, std::ios::trunc);
    umask(old);
    if (!(out << Hex(seed) << "\n")) return absl::PermissionDeniedError("cannot write " + path);
  }
  std::ofstream pub(path + ".pub", std::ios::trunc);
  if (!(pub << Hex(pk) << "\n"))
    return absl::PermissionDeniedError("cannot write " + path + ".pub");
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(sk.data(), sk.size());
  return absl::OkStatus();
}

std::string SignedMessage(const history::v1::Checkpoint& c) {
  return absl::StrCat("bsh-checkpoint-v1 ", c.row_count(), " ", c.booking_count(), " ",
                      Hex(c.root()), " ", c.signed_at_micros());
}

bool SignatureValid(const history::v1::Checkpoint& c, const std::string& public_key) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES ||
      c.signature().size() != crypto_sign_BYTES) {
    return false;
  }
  const std::string message = SignedMessage(c);
  return crypto_sign_verify_detached(U(c.signature()), U(message), message.size(), U(public_key)) ==
         0;
}

std::string CheckpointLine(const history::v1::Checkpoint& c) {
  return absl::StrCat(SignedMessage(c), " ", Hex(c.signature()));
}

absl::StatusOr<history::v1::Checkpoint> ParseCheckpointLine(const std::string& line) {
  std::vector<std::string> f = absl::StrSplit(absl::StripAsciiWhitespace(line), ' ');
  history::v1::Checkpoint c;
  int64_t rows = 0, bookings = 0, at = 0;
  std::optional<std::string> root, signature;
  if (f.size() != 6 || f[0] != "bsh-checkpoint-v1" || !absl::SimpleAtoi(f[1], &rows) ||
      !absl::SimpleAtoi(f[2], &bookings) || !(root = FromHex(f[3])) ||
      !absl::SimpleAtoi(f[4], &at) || !(signature = FromHex(f[5]))) {
    return absl::InvalidArgumentError(
        "not a checkpoint line (as `history-verify checkpoint` prints one): \"bsh-checkpoint-v1 "
        "ROWS BOOKINGS ROOT_HEX SIGNED_AT_MICROS SIGNATURE_HEX\"");
  }
  c.set_row_count(rows);
  c.set_booking_count(bookings);
  c.set_root(*root);
  c.set_signed_at_micros(at);
  c.set_signature(*signature);
  return c;
}

std::vector<std::string> Leaves(const std::vector<Head>& heads) {
  std::vector<std::string> leaves;
  leaves.reserve(heads.size());
  for (const Head& h : heads) leaves.push_back(LeafHash(h));
  return leaves;
}

StoreHeads ReadStoreHeads(pqxx::transaction_base& txn) {
  StoreHeads out;
  // One row per booking, or one of NULLs when there is none; each with the
  // row count.
  pqxx::result r = txn.exec(R"(
      SELECT h."bookingId" AS booking_id, h.sequence AS sequence,
             COALESCE(h."rowHash", '\x'::bytea) AS row_hash,
             (SELECT count(*) FROM "BookingStatusHistory") AS row_count
      FROM (SELECT DISTINCT ON ("bookingId") "bookingId", sequence, "rowHash"
            FROM "BookingStatusHistory" ORDER BY "bookingId", sequence DESC) AS h
      UNION ALL SELECT NULL, NULL, NULL, (SELECT count(*) FROM "BookingStatusHistory")
      WHERE NOT EXISTS (SELECT 1 FROM "BookingStatusHistory"))");
  const HeadLayout at(r);
  const pqxx::row_size_type row_count = r.column_number("row_count");
  for (const pqxx::row& row : r) {
    out.row_count = row[row_count].as<int64_t>();
    if (row[at.booking_id].is_null()) continue;
    out.heads.push_back(at.Read(row));
  }
  std::sort(out.heads.begin(), out.heads.end(),
            [](const Head& a, const Head& b) { return a.booking_id < b.booking_id; });
  return out;
}

// The heads of checkpoint `id` that differ from those of the one before.
static void KeepChangedHeads(pqxx::transaction_base& txn, int64_t id,
                             const std::vector<Head>& heads,
                             const std::map<std::string, Head>& before) {
  std::string json = "[";
  for (const Head& h : heads) {
    auto it = before.find(h.booking_id);
    if (it != before.end() && it->second.sequence == h.sequence &&
        it->second.row_hash == h.row_hash) {
      continue;
    }
    if (json.size() > 1) json += ',';
    absl::StrAppend(&json, "{\"b\":", JsonString(h.booking_id), ",\"s\":", h.sequence, ",\"h\":\"",
                    Hex(h.row_hash), "\"}");
  }
  json += "]";
  txn.exec_params(R"(INSERT INTO "HistoryCheckpointHead" ("checkpointId", "bookingId", sequence,
                                                          "rowHash")
                     SELECT $1, r.b, r.s, decode(r.h, 'hex')
                     FROM jsonb_to_recordset($2::jsonb) AS r(b text, s bigint, h text))",
                  id, json);
}

std::optional<history::v1::Checkpoint> SignCheckpoint(pqxx::transaction_base& txn,
                                                      const SigningKey& key) {
  // One signer at a time (several replicas may sign).
  txn.exec("SELECT pg_advisory_xact_lock(18515, 1)");
  const StoreHeads now = ReadStoreHeads(txn);
  std::optional<history::v1::Checkpoint> last = NewestCheckpoint(txn);
  std::map<std::string, Head> before;
  if (last) {
    if (std::optional<Head> gone = FirstAlteredHead(txn, last->id())) {
      // Signing now would vouch for the altered store: refused, loudly.
      LogError("checkpoint refused: a head the last checkpoint signed is gone or altered",
               {{"booking_id", gone->booking_id},
                {"sequence", absl::StrCat(gone->sequence)},
                {"checkpoint", absl::StrCat(last->id())}});
      return std::nullopt;
    }
    for (Head& h : CheckpointHeads(txn, last->id())) before[h.booking_id] = std::move(h);
    if (last->row_count() == now.row_count && before.size() == now.heads.size())
      return std::nullopt;
  }
  history::v1::Checkpoint c;
  c.set_row_count(now.row_count);
  c.set_booking_count(static_cast<int64_t>(now.heads.size()));
  c.set_root(MerkleRoot(Leaves(now.heads)));
  c.set_signed_at_micros(absl::ToUnixMicros(absl::Now()));
  if (last && c.signed_at_micros() <= last->signed_at_micros()) {
    c.set_signed_at_micros(last->signed_at_micros() + 1);
  }
  c.set_public_key(key.public_key);
  const std::string message = SignedMessage(c);
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr, U(message),
                       message.size(), U(key.secret));
  c.set_signature(signature);
  c.set_id(txn.exec_params(R"(INSERT INTO "HistoryCheckpoint"
                                ("rowCount", "bookingCount", root, "signedAtMicros", "publicKey",
                                 signature)
                              VALUES ($1, $2, decode($3, 'hex'), $4, decode($5, 'hex'),
                                      decode($6, 'hex'))
                              RETURNING id AS id)",
                           c.row_count(), c.booking_count(), Hex(c.root()), c.signed_at_micros(),
                           Hex(c.public_key()), Hex(c.signature()))
               .front()["id"]
               .as<int64_t>());
  KeepChangedHeads(txn, c.id(), now.heads, before);
  return c;
}

std::optional<history::v1::Checkpoint> NewestCheckpoint(pqxx::transaction_base& txn) {
  pqxx::result r = txn.exec(absl::StrCat("SELECT ", kCheckpointColumns,
                                         R"( FROM "HistoryCheckpoint" ORDER BY id DESC LIMIT 1)"));
  if (r.empty()) return std::nullopt;
  return FromRow(r.front());
}

std::string NewestCheckpointWithHeadsQuery(pqxx::transaction_base& txn,
                                           const std::string& booking_id) {
  return absl::StrCat("SELECT ", kCheckpointColumns,
                      R"(, h.sequence AS head_sequence, h."rowHash" AS head_row_hash
         FROM (SELECT * FROM "HistoryCheckpoint" ORDER BY id DESC LIMIT 1) c
         LEFT JOIN "HistoryCheckpointHead" h
           ON h."bookingId" = )",
                      txn.quote(booking_id), R"( AND h."checkpointId" <= c.id
         ORDER BY h."checkpointId")");
}

CheckpointWithHeads ReadCheckpointWithHeads(const pqxx::result& r, const std::string& booking_id) {
  CheckpointWithHeads out;
  if (r.empty()) return out;
  out.checkpoint = FromRow(r.front());
  const pqxx::row_size_type sequence = r.column_number("head_sequence"),
                            row_hash = r.column_number("head_row_hash");
  for (const pqxx::row& row : r) {
    if (row[sequence].is_null()) continue;
    out.heads.push_back(
        Head{booking_id, row[sequence].as<int64_t>(), pqxx::binarystring(row[row_hash]).str()});
  }
  return out;
}

std::optional<history::v1::Checkpoint> CheckpointSignedAt(pqxx::transaction_base& txn,
                                                          int64_t signed_at_micros) {
  pqxx::result r = txn.exec_params(
      absl::StrCat("SELECT ", kCheckpointColumns,
                   R"( FROM "HistoryCheckpoint" WHERE "signedAtMicros" = $1 ORDER BY id LIMIT 1)"),
      signed_at_micros);
  if (r.empty()) return std::nullopt;
  return FromRow(r.front());
}

std::vector<Head> CheckpointHeads(pqxx::transaction_base& txn, int64_t id) {
  const pqxx::result r = txn.exec_params(
      R"(SELECT DISTINCT ON ("bookingId") "bookingId" AS booking_id, sequence AS sequence,
                "rowHash" AS row_hash
         FROM "HistoryCheckpointHead" WHERE "checkpointId" <= $1
         ORDER BY "bookingId", "checkpointId" DESC)",
      id);
  const HeadLayout at(r);
  std::vector<Head> heads;
  heads.reserve(r.size());
  for (const pqxx::row& row : r) heads.push_back(at.Read(row));
  std::sort(heads.begin(), heads.end(),
            [](const Head& a, const Head& b) { return a.booking_id < b.booking_id; });
  return heads;
}

}  // namespace booking
