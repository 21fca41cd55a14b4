#include "booking-service/idempotent_write.h"

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"

namespace booking {

const std::string& Prepared(pqxx::transaction_base& txn, const std::string& name,
                            const std::string& sql) {
  txn.conn().prepare(name, sql);
  return name;
}

const std::string& PreparedNow(pqxx::connection& conn, const std::string& name,
                               const std::string& sql) {
  conn.prepare(name, sql);
  conn.prepare_now(name);
  return name;
}

namespace {

constexpr char kLockName[] = "booking_request_lock";
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))";
constexpr char kRememberName[] = "booking_request_remember";
constexpr char kRememberSql[] =
    R"(INSERT INTO "IdempotencyRecord" (caller, "requestId", method, fingerprint, response)
                  VALUES ($1, $2, $3, $4, $5))";

}  // namespace

void LockRequestId(pqxx::work& txn, const Mutation& m) {
  if (m.request_id.empty()) return;
  txn.exec_prepared(Prepared(txn, kLockName, kLockSql), m.caller, m.request_id);
}

std::string LockRequestIdStatement(pqxx::connection& conn, const Mutation& m) {
  if (m.request_id.empty()) return "";
  return absl::StrCat("EXECUTE ", PreparedNow(conn, kLockName, kLockSql), "(", conn.quote(m.caller),
                      ", ", conn.quote(m.request_id), ")");
}

absl::StatusOr<bool> ReplayRecord(const pqxx::field& method, const pqxx::field& fingerprint,
                                  const pqxx::field& stored, const Mutation& m,
                                  absl::string_view expected_method,
                                  google::protobuf::Message* response) {
  if (m.request_id.empty() || method.is_null()) return false;
  if (method.as<std::string>() != expected_method ||
      fingerprint.as<std::string>() != m.fingerprint) {
    return RpcError(absl::StatusCode::kAlreadyExists,
                    absl::StrCat("request id ", m.request_id,
                                 " was already used for a different request; use a new one"))
        .Info("REQUEST_ID_REUSED", std::string(kBookingErrorDomain),
              {{"request_id", m.request_id}, {"first_method", method.as<std::string>()}});
  }
  pqxx::binarystring bytes(stored);
  if (!response->ParseFromString(bytes.str())) {
    return absl::InternalError("stored idempotency record does not parse");
  }
  return true;
}

absl::StatusOr<bool> ReadRecord(pqxx::work& txn, const Mutation& m, absl::string_view method,
                                google::protobuf::Message* response) {
  if (m.request_id.empty()) return false;
  pqxx::result r =
      txn.exec_prepared(Prepared(txn, "booking_request_record",
                                 R"(SELECT method, fingerprint, response FROM "IdempotencyRecord"
                  WHERE caller = $1 AND "requestId" = $2)"),
                        m.caller, m.request_id);
  if (r.empty()) return false;
  return ReplayRecord(r[0]["method"], r[0]["fingerprint"], r[0]["response"], m, method, response);
}

void Remember(pqxx::work& txn, const Mutation& m, absl::string_view method,
              const google::protobuf::Message& response) {
  if (m.request_id.empty()) return;
  const std::string bytes = response.SerializeAsString();
  txn.exec_prepared(Prepared(txn, kRememberName, kRememberSql), m.caller, m.request_id,
                    std::string(method), m.fingerprint,
                    pqxx::binarystring(bytes.data(), bytes.size()));
}

std::string RememberStatement(pqxx::connection& conn, const Mutation& m, absl::string_view method,
                              const google::protobuf::Message& response) {
  if (m.request_id.empty()) return "";
  const std::string bytes = response.SerializeAsString();
  return absl::StrCat(
      "EXECUTE ", PreparedNow(conn, kRememberName, kRememberSql), "(", conn.quote(m.caller), ", ",
      conn.quote(m.request_id), ", ", conn.quote(std::string(method)), ", ",
      conn.quote(m.fingerprint), ", ",
      conn.quote_raw(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()), ")");
}

}  // namespace booking
