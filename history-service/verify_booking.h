// VerifyHistory's answer for one booking: its rows with their canonical
// bytes and hashes, the server's own check, and the audit path tying the
// booking's head to the newest signed checkpoint.
#ifndef HISTORY_SERVICE_VERIFY_BOOKING_H_
#define HISTORY_SERVICE_VERIFY_BOOKING_H_

#include <string>

#include "absl/status/statusor.h"
#include "history/v1/history.pb.h"
#include "pqxx/pqxx"

namespace booking {

history::v1::VerifyHistoryResponse VerifyBooking(pqxx::transaction_base& txn,
                                                 const std::string& booking_id);

// What a client checks with VerifyHistory's answer and the public key it
// trusts: the signature, every row's hash, and the audit path. "" when all
// hold, else the first that does not.
std::string CheckVerifyResponse(const history::v1::VerifyHistoryResponse& response,
                                const std::string& public_key);

}  // namespace booking

#endif  // HISTORY_SERVICE_VERIFY_BOOKING_H_
