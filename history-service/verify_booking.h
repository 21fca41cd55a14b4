// VerifyHistory's answer for one booking: its rows with their canonical
// bytes and hashes, the server's own check, the newest signed checkpoint and
// the booking's head as the store keeps it for that checkpoint.
//
// Its cost follows the booking (its rows, its rows of
// "HistoryCheckpointHead" and one checkpoint row), never the store: it does
// not rebuild the checkpoint's Merkle tree. So it proves that the booking's
// rows form an unbroken hash chain, and that every head a checkpoint kept
// for the booking is still there with the hash kept; it does not prove that
// the head kept is the one the signed root covers (no audit path: a writer
// of the store who rewrites a booking's rows and its kept heads together
// passes it). `history-verify verify` is the whole-store check that does:
// it rebuilds the root from every head and checks the signature.
#ifndef HISTORY_SERVICE_VERIFY_BOOKING_H_
#define HISTORY_SERVICE_VERIFY_BOOKING_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "history-service/verify.h"
#include "history/v1/history.pb.h"

namespace booking {

// A stored row as a client checks it: the entry, the canonical bytes its
// hashes cover, its chain hash (inclusion unset).
void ToVerifiedRow(const StoredRow& row, history::v1::VerifiedRow* out);

// Two round trips: the checkpoints, the rows with their leaves and the
// leaf of a row gone in one message, then the tiles of the proofs. `bound`:
// a statement sent first in each message (the caller's deadline as SET
// LOCAL statement_timeout, DeadlineBoundStatement), or "" for none; on a
// nontransaction no BEGIN or COMMIT is sent.
history::v1::VerifyHistoryResponse VerifyBooking(pqxx::transaction_base& txn,
                                                 const std::string& booking_id,
                                                 const std::string& bound = "");

// What a client checks with VerifyHistory's answer and the public key it
// trusts: that each entry shows the row its canonical bytes encode
// (entry_check.h), every row's hash, the checkpoint's signature, that the head kept
// is one of the rows, and the audit path when the answer carries one (only
// servers from before per-booking verify stopped rebuilding the tree send
// one). "" when all hold, else the first that does not.
std::string CheckVerifyResponse(const history::v1::VerifyHistoryResponse& response,
                                const std::string& public_key);

}  // namespace booking

#endif  // HISTORY_SERVICE_VERIFY_BOOKING_H_
